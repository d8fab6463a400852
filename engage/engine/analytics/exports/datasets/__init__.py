"""One module per export dataset; each registers its Dataset (exports/registry.py finds them all)."""
