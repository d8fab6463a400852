"""An import's rejected rows, a page at a time, for the import's own page: the person who imported
a file sees which lines failed and why where they are, not only in a download they must open in
a spreadsheet. The report written by the import (importer.write_rejections) stays the one record,
downloadable whole; a page reads only the lines it shows, however many millions the file has."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from engage.engine.subscriber_fields import label_of

PAGE_SIZE = 100
# "city: longer than 100 characters": a reason names its column first (rows.RowError, FieldValueError);
# "3 fields, but the header names 2" names none
_COLUMN = re.compile(r"[^\s:][^:]{0,63}")


@dataclass(frozen=True)
class Rejection:
    """One rejected row: where it was (its line, or row of a Parquet file), the column at fault
    (None when the row as a whole was), that column's label, and the reason."""

    where: str
    column: str | None
    label: str
    reason: str


@dataclass(frozen=True)
class RejectionPage:
    """``rows`` of a report, from the ``first``-th (1-based); ``where`` says what their place is
    (line, row); ``more`` when rows follow."""

    where: str
    first: int
    rows: list[Rejection]
    more: bool


def read_page(report: Path, page: int = 1, size: int = PAGE_SIZE) -> RejectionPage:
    """Page ``page`` (1-based) of the report: read up to its end, never the rest of the file."""
    page = max(1, page)
    skip = (page - 1) * size
    with report.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None) or ["line"]
        rows = list(islice(reader, skip, skip + size + 1))
    return RejectionPage(where=header[0] or "line", first=skip + 1,
                         rows=[_rejection(r) for r in rows[:size]], more=len(rows) > size)


def _rejection(row: list[str]) -> Rejection:
    where, reason = (row + ["", ""])[:2]
    column, sep, rest = reason.partition(": ")
    if sep and _COLUMN.fullmatch(column) and not column.startswith("the "):
        return Rejection(where, column, label_of(column), rest)
    return Rejection(where, None, "", reason)
