"""Rows of a Parquet file, numbered from 1, read a record batch at a time so that a file of
millions of rows never sits in memory whole. A file Arrow cannot read (truncated, damaged) is a
RowError saying so; one with a schema and no rows is simply empty."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from engage.engine.subscribers.rows import RowError

BATCH_ROWS = 65_536


class ParquetSource:
    """Opened on `with`; `header` is the column names, records() yields (row number, values)."""

    label = "row"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: list[str] = []
        self.rejected: list[tuple[int, str]] = []
        self.encoding = None  # Parquet text is UTF-8 by definition

    def __enter__(self) -> ParquetSource:
        try:
            self._file = pq.ParquetFile(self.path)
            self.header = list(self._file.schema_arrow.names)
        except (pa.ArrowException, OSError) as exc:
            raise RowError(f"{self.path}: not a readable Parquet file, truncated or damaged ({_first_line(exc)})") \
                from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def records(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        number = 0
        batches = self._file.iter_batches(batch_size=BATCH_ROWS)
        while True:
            try:
                batch = next(batches, None)
                columns = [column.to_pylist() for column in batch.columns] if batch is not None else None
            except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
                raise RowError(f"{self.path}: the Parquet file is damaged after row {number} ({_first_line(exc)})") \
                    from None
            if columns is None:
                return
            for values in zip(*columns, strict=True):
                number += 1
                yield number, values


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def count_rows(path: Path) -> int:
    """Rows in the file's footer, to size a progress bar; 0 when it has none (the import says why)."""
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowException, OSError):
        return 0


def is_parquet(path: Path) -> bool:
    """By the magic bytes, so that a .parquet named otherwise (or a CSV named .parquet) is read right."""
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"
