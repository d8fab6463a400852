"""Rows of a Parquet file, numbered from 1, read a record batch at a time so that a file of
millions of rows never sits in memory whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

BATCH_ROWS = 65_536


class ParquetSource:
    """Opened on `with`; `header` is the column names, records() yields (row number, values)."""

    label = "row"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: list[str] = []

    def __enter__(self) -> ParquetSource:
        self._file = pq.ParquetFile(self.path)
        self.header = list(self._file.schema_arrow.names)
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def records(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        number = 0
        for batch in self._file.iter_batches(batch_size=BATCH_ROWS):
            for values in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                number += 1
                yield number, values


def count_rows(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def is_parquet(path: Path) -> bool:
    """By the magic bytes, so that a .parquet named otherwise (or a CSV named .parquet) is read right."""
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"
