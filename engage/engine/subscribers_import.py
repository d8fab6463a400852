"""Import subscribers from CSV: every row validated, good rows upserted by number in batches,
rejected rows reported with their line and reason. Nothing good is lost to a bad neighbour."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engage.engine.phones import InvalidNumber, to_e164
from engage.engine.store.schema import Subscriber

COLUMNS = ("first_name", "last_name", "language", "gender", "birth_date", "region", "city", "branch",
           "timezone", "balance")
NUMBER_HEADERS = ("msisdn", "number", "phone")


class RowError(ValueError):
    pass


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (file line, reason)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "imported": self.imported, "rejected": len(self.rejected)}


def parse_row(row: dict[str, str], default_region: str) -> dict[str, Any]:
    number = next((row[h] for h in NUMBER_HEADERS if row.get(h)), None)
    if number is None:
        raise RowError("msisdn: missing")
    try:
        out: dict[str, Any] = {"msisdn": to_e164(number, default_region)}
    except InvalidNumber as exc:
        raise RowError(f"msisdn: {exc}") from None
    attributes: dict[str, str] = {}
    for key, value in row.items():
        if key is None:
            raise RowError("more fields than the header names")
        value = (value or "").strip()
        if key in NUMBER_HEADERS or not value:
            continue
        if key in COLUMNS:
            out[key] = _convert(key, value)
        else:
            attributes[key] = value
    out["attributes"] = attributes
    return out


def _convert(key: str, value: str) -> Any:
    if key == "birth_date":
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise RowError(f"birth_date: {value!r} is not a date (YYYY-MM-DD)") from None
    if key == "balance":
        try:
            return Decimal(value)
        except InvalidOperation:
            raise RowError(f"balance: {value!r} is not a number") from None
    if key == "gender" and value.upper() not in ("M", "F", "X"):
        raise RowError(f"gender: {value!r} is not one of M, F, X")
    if key == "gender":
        return value.upper()
    if key == "language":
        return value.lower()
    return value


def read_csv(path: Path, default_region: str, report: ImportReport) -> Iterator[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not set(NUMBER_HEADERS) & set(reader.fieldnames):
            raise RowError(f"{path}: the header has no msisdn column (one of {', '.join(NUMBER_HEADERS)})")
        for row in reader:
            report.rows += 1
            try:
                yield parse_row(row, default_region)
            except RowError as exc:
                report.rejected.append((reader.line_num, str(exc)))


def upsert(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """One statement per batch; a number seen twice in a batch keeps its last row."""
    if not rows:
        return
    rows = list({r["msisdn"]: r for r in rows}.values())
    keys = sorted({k for r in rows for k in r})
    rows = [{k: r.get(k) for k in keys} for r in rows]
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Subscriber.__table__).values(rows)
    updates = {k: stmt.excluded[k] for k in keys if k != "msisdn"}
    updates["updated_at"] = func.now()
    stmt = stmt.on_conflict_do_update(index_elements=["msisdn"], set_=updates)
    with engine.begin() as conn:
        conn.execute(stmt)


def import_csv(engine: Engine, path: Path, default_region: str, *, batch_size: int = 1000,
               progress: Callable[[int], None] | None = None) -> ImportReport:
    report = ImportReport()
    batch: list[dict[str, Any]] = []
    for row in read_csv(path, default_region, report):
        batch.append(row)
        if len(batch) >= batch_size:
            upsert(engine, batch)
            report.imported += len(batch)
            batch = []
            if progress:
                progress(report.rows)
    upsert(engine, batch)
    report.imported += len(batch)
    if progress:
        progress(report.rows)
    return report


def write_rejections(report: ImportReport, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["line", "reason"])
        writer.writerows(report.rejected)
