"""Rows of a CSV file with their line numbers, as lists of cells: csv.reader, not DictReader,
because building a dict per row is wasted work when the layout is known from the header."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from engage.engine.subscribers.rows import RowError


class CsvSource:
    """Opened on `with`; `header` is the first row, records() yields (file line, cells)."""

    label = "line"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: list[str] = []

    def __enter__(self) -> CsvSource:
        self._fh = self.path.open(newline="", encoding="utf-8-sig")
        self._reader = csv.reader(self._fh)
        header = next(self._reader, None)
        if not header:
            self._fh.close()
            raise RowError(f"{self.path}: no header row")
        self.header = header
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def records(self) -> Iterator[tuple[int, list[str]]]:
        reader = self._reader
        for cells in reader:
            if cells:  # a blank line is no row
                yield reader.line_num, cells


def count_rows(path: Path) -> int:
    """Lines after the header (quoted line breaks overcount; it only sizes a progress bar)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines + (last != b"\n") - 1, 0)
