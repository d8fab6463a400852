"""Import subscribers from a CSV or Parquet file, or from JSON records: every row validated,
good rows stored in chunks of one transaction each, rejected rows reported with their line
(CSV), row (Parquet) or index (JSON) and the reason. Nothing good is lost to a bad neighbour.
A number given more than once (in whatever spelling: E.164 decides) is stored from its last row
and counted once: `imported` counts numbers, `duplicates` the earlier rows the later ones replaced.

Parsing (Python) and storing (mostly the database's work) overlap: chunk N is written on a second
thread while chunk N+1 is parsed, so a two-core machine keeps both cores busy. Both threads share
the GIL: parsing (~15 µs a row) and COPY's row formatting (~7 µs) together bound an import at
about 36,000 rows/s; see bulk_mode for what keeps them from waiting on each other."""

from __future__ import annotations

import csv
import gc
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from engage.engine.subscribers import csv_source, ownership, parquet_source
from engage.engine.subscribers.rows import REJECTIONS, RowParser
from engage.engine.subscribers.storage import open_writer

CHUNK_ROWS = 50_000


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0  # different numbers stored
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, row or index; reason)
    label: str = "line"  # what the first number of a rejection is: line (CSV), row (Parquet), index (JSON)
    duplicates: int = 0  # good rows whose number a later row gave again

    def as_dict(self, *, details: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": self.rows, "imported": self.imported, "rejected": len(self.rejected)}
        if self.duplicates:
            out["duplicates"] = self.duplicates
        if details:
            out["rejections"] = [{self.label: where, "reason": reason} for where, reason in self.rejected]
        return out


class DistinctNumbers:
    """How many different numbers the chunks of a file held: their E.164 digits as int64, 8 bytes a
    number, where a set of the strings would take some 90."""

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []

    def add(self, numbers: Iterable[str], count: int) -> None:
        self._parts.append(np.fromiter(map(int, numbers), dtype=np.int64, count=count))

    def count(self) -> int:
        return len(np.unique(np.concatenate(self._parts))) if self._parts else 0


def open_source(path: Path, encoding: str | None = None) -> csv_source.CsvSource | parquet_source.ParquetSource:
    """The file's rows, Parquet or CSV as its content says; `encoding` is for a CSV without a byte
    order mark that is not UTF-8."""
    path = Path(path)
    return parquet_source.ParquetSource(path) if parquet_source.is_parquet(path) else \
        csv_source.CsvSource(path, encoding)


def import_file(engine: Engine, path: Path, region: str, *, progress: Callable[[int], None] | None = None,
                chunk_rows: int = CHUNK_ROWS, encoding: str | None = None) -> ImportReport:
    """Import a CSV or Parquet file (told apart by content); progress(rows read) after each chunk.
    Raises RowError for a file that cannot be read at all (not CSV text nor Parquet, no header, no
    number column)."""
    source = open_source(path, encoding)
    with source, bulk_mode():
        parser = RowParser(source.header, region, encoding=source.encoding)
        report = ImportReport(label=source.label)
        numbers = DistinctNumbers()
        with open_writer(engine, parser.columns) as writer, ThreadPoolExecutor(1) as pool:
            pending: tuple[Future[None], int] | None = None  # the chunk being written, rows read up to it
            chunk: dict[str, tuple[Any, ...]] = {}
            parse, rejected, rows, good = parser.parse, report.rejected, 0, 0
            for where, cells in source.records():
                rows += 1
                try:
                    row = parse(cells)
                except REJECTIONS as exc:
                    rejected.append((where, str(exc)))
                    continue
                good += 1
                chunk[row[0]] = row  # a number seen again in the chunk: its last row wins
                if len(chunk) >= chunk_rows:
                    _wait(pending, progress)
                    pending = pool.submit(writer.write, list(chunk.values())), rows
                    numbers.add(chunk, len(chunk))
                    chunk = {}
            _wait(pending, progress)
            writer.write(list(chunk.values()))
            numbers.add(chunk, len(chunk))
        add_source_rejections(report, source.rejected)
        report.rows += rows
        report.imported = numbers.count()
        report.duplicates = good - report.imported
        if progress:
            progress(report.rows)
    return report


def add_source_rejections(report: Any, rejected: list[tuple[int, str]]) -> None:
    """Lines the source turned away before they became rows count as rows, rejected in line order."""
    if rejected:
        report.rows += len(rejected)
        report.rejected.extend(rejected)
        report.rejected.sort()


_bulk_lock = threading.Lock()
_bulk_imports = 0
_saved: tuple[bool, float] = (True, 0.005)


@contextmanager
def bulk_mode() -> Iterator[None]:
    """The interpreter set for parsing millions of rows, while any import runs in this process.
    - No cycle collection: rows are tuples of plain values that make no reference cycles, yet every
      one counts towards the collector's next run; left on, it cost a quarter of the parsing time.
    - A 0.5 ms GIL switch interval instead of 5 ms: the writer thread formats COPY rows in short
      bursts between sends, and after each send waited up to 5 ms for the parsing thread to let go
      of the GIL (the convoy effect), which made it, not the database, the bottleneck."""
    global _bulk_imports, _saved
    with _bulk_lock:
        if _bulk_imports == 0:
            _saved = (gc.isenabled(), sys.getswitchinterval())
            gc.disable()
            sys.setswitchinterval(0.0005)
        _bulk_imports += 1
    try:
        yield
    finally:
        with _bulk_lock:
            _bulk_imports -= 1
            if _bulk_imports == 0:
                collecting, interval = _saved
                sys.setswitchinterval(interval)
                if collecting:
                    gc.enable()


def _wait(pending: tuple[Future[None], int] | None, progress: Callable[[int], None] | None) -> None:
    """Let the previous chunk finish (re-raising its error) before the next one is handed over."""
    if pending is None:
        return
    pending[0].result()
    if progress:
        progress(pending[1])


def upsert_records(engine: Engine, records: Sequence[Any], region: str, *, branch: str | None = None
                   ) -> ImportReport:
    """JSON records (objects keyed like a CSV header) for the API: each bad one reported by its
    index, the good ones stored; a number given twice keeps its last record. ``branch`` set (the
    records carry it already): a number that is a subscriber outside it is refused at each of its
    indexes and that subscriber left alone, as a branch's file import does."""
    report = ImportReport(label="index", rows=len(records))
    parsers: dict[tuple[str, ...], RowParser] = {}
    rows: dict[str, tuple[tuple[str, ...], tuple[Any, ...]]] = {}
    indexes: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            report.rejected.append((index, "not an object"))
            continue
        keys = tuple(str(k) for k in record)
        try:
            parser = parsers.get(keys) or parsers.setdefault(keys, RowParser(keys, region))
            row = parser.parse(list(record.values()))
        except REJECTIONS as exc:
            report.rejected.append((index, str(exc)))
            continue
        rows[row[0]] = (parser.columns, row)
        indexes.setdefault(row[0], []).append(index)
        report.imported += 1
    if branch is not None and rows:
        with engine.connect() as conn:
            taken = ownership.outside(conn, rows, branch)
        for number in taken:
            del rows[number]
            report.rejected += [(index, ownership.TAKEN) for index in indexes[number]]
            report.imported -= len(indexes[number])
        report.rejected.sort()
    report.duplicates, report.imported = report.imported - len(rows), len(rows)
    by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for columns, row in rows.values():
        by_columns.setdefault(columns, []).append(row)
    for columns, group in by_columns.items():
        with open_writer(engine, columns, within_branch=branch is not None) as writer:
            writer.write(group)
    return report


def count_rows(path: Path) -> int:
    """Rows in a file, to size a progress bar."""
    path = Path(path)
    return parquet_source.count_rows(path) if parquet_source.is_parquet(path) else csv_source.count_rows(path)


def write_rejections(report: ImportReport | Any, path: Path) -> None:
    """Any report with ``label`` and ``rejected`` (where, reason) pairs: imports, static lists."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([report.label, "reason"])
        writer.writerows(report.rejected)
