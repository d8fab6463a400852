"""Kept for engage/demo.py, which seeds with `upsert`; new code imports engage.engine.subscribers."""

from engage.engine.subscribers import upsert

__all__ = ["upsert"]
