"""The domain and its adapters. Nothing here imports engage.web or engage.workers."""
