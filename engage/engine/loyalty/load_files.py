"""A bulk point load's file, read as it was uploaded (bytes: the page and the command line both have
it whole): CSV in UTF-8 (with or without a byte order mark) or Parquet, chosen by the content's magic
bytes or the name. Either way a header names the columns msisdn, points, reason and external_id (any
case; "External ID" and "external-id" too); other columns are ignored. What cannot be read at all (a
column missing, bytes that are not UTF-8, a damaged Parquet file, no rows) is a LoadFileError for the
whole file, naming what and where; a row's own mistakes are for loads.py to judge."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

COLUMNS = ("msisdn", "points", "reason", "external_id")
PARQUET_MAGIC = b"PAR1"
BATCH_ROWS = 5_000


class LoadFileError(ValueError):
    """The whole file is refused; the message names what is wrong and where."""


@dataclass(frozen=True)
class RawRow:
    line: int  # a CSV file's line (the header is line 1), a Parquet file's row (from 1)
    msisdn: Any
    points: Any
    reason: Any
    external_id: Any


def is_parquet(filename: str, data: bytes) -> bool:
    return data[:4] == PARQUET_MAGIC or filename.lower().endswith((".parquet", ".parq", ".pq"))


def rows_of(filename: str, data: bytes) -> Iterator[RawRow]:
    """The file's rows, blank CSV lines skipped. The header is checked before the first row is given,
    so a missing column is raised before anything is written."""
    if not data:
        raise LoadFileError(f"{filename}: the file is empty")
    reader = _parquet_rows(filename, data) if is_parquet(filename, data) else _csv_rows(filename, data)
    first = next(reader, None)
    if first is None:
        raise LoadFileError(f"{filename}: the file has a header and no rows")
    yield first
    yield from reader


def column_key(name: Any) -> str:
    """ "External ID", "external-id" -> external_id."""
    return re.sub(r"[\s\-]+", "_", str(name or "").strip().lower())


def _positions(filename: str, header: list[Any]) -> list[int]:
    keys = [column_key(h) for h in header]
    missing = [c for c in COLUMNS if c not in keys]
    if missing:
        found = ", ".join(str(h) for h in header if str(h or "").strip()) or "none"
        raise LoadFileError(f"{filename}: the header has no column {', '.join(missing)} "
                            f"(it needs {', '.join(COLUMNS)}; it has {found})")
    return [keys.index(c) for c in COLUMNS]


def _csv_rows(filename: str, data: bytes) -> Iterator[RawRow]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise LoadFileError(f"{filename}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 "
                            "(save the file as CSV UTF-8)") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        if header is None:
            raise LoadFileError(f"{filename}: the file has no header row (it needs {', '.join(COLUMNS)})")
        at = _positions(filename, header)
        last = reader.line_num
        for cells in reader:
            line, last = last + 1, reader.line_num  # a quoted field may span lines: where the row starts
            if not any(cell.strip() for cell in cells):
                continue
            values = [cells[i] if i < len(cells) else None for i in at]
            yield RawRow(line, *values)
    except csv.Error as exc:
        raise LoadFileError(f"{filename}: line {reader.line_num}: {exc}") from None


def _parquet_rows(filename: str, data: bytes) -> Iterator[RawRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(io.BytesIO(data))
        header = list(source.schema_arrow.names)
    except (pa.ArrowException, OSError) as exc:
        raise LoadFileError(f"{filename}: not a readable Parquet file, truncated or damaged ({_first_line(exc)})") \
            from None
    names = [header[i] for i in _positions(filename, header)]
    number = 0
    batches = source.iter_batches(batch_size=BATCH_ROWS, columns=names)
    while True:
        try:
            batch = next(batches, None)
            columns = [column.to_pylist() for column in batch.columns] if batch is not None else None
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            raise LoadFileError(f"{filename}: the Parquet file is damaged after row {number} "
                                f"({_first_line(exc)})") from None
        if columns is None:
            return
        for values in zip(*columns, strict=True):
            number += 1
            yield RawRow(number, *values)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
