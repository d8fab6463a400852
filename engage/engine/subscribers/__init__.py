"""Subscribers in bulk: files (CSV, Parquet) and JSON records validated row by row and upserted
by number. rows = one row's validation, *_source = readers, storage = upserts, importer = the whole."""

from engage.engine.subscribers.importer import ImportReport, count_rows, import_file, upsert_records, write_rejections
from engage.engine.subscribers.rows import RowError
from engage.engine.subscribers.storage import upsert

__all__ = ["ImportReport", "RowError", "count_rows", "import_file", "upsert", "upsert_records", "write_rejections"]
