"""Providers' price tables: imported from CSV (every bad row reported by line and field, good rows
kept), listed, and read back as the prices in force at a moment for the router. The file is read as
a subscriber file is (subscribers.csv_source): UTF-8, UTF-16 with its mark or a declared encoding,
a binary file refused whole, a line that will not decode or holds a control character rejected.

A table row prices one part to a destination prefix (digits of E.164: "998", "99890") or to a
network (MCC-MNC: "434-04"), from `valid_from` on; a later `valid_from` supersedes it. Prices in
different currencies compare through ENGAGE_CURRENCY_RATES (see `currency_rates`).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from engage.engine.audit import audit
from engage.engine.store.bulk import conflict_insert
from engage.engine.store.schema import Provider, RoutePrice
from engage.engine.subscribers import rows as subscriber_rows
from engage.engine.subscribers.csv_source import CsvSource

route_prices = RoutePrice.__table__

REQUIRED_HEADERS = ("provider", "price", "currency")
KEY_HEADERS = ("prefix", "mcc_mnc")
HEADERS = ("provider", "prefix", "mcc_mnc", "network", "price", "currency", "valid_from")
KEY = ("provider_id", "prefix", "mcc_mnc", "valid_from")
MCC_MNC = re.compile(r"^(\d{3})[-/ ]?(\d{2,3})$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_PRICE = Decimal("99999999.999999")  # Numeric(14, 6)


class PriceTableError(ValueError):
    """The file as a whole cannot be read (no such file, a header without the needed columns)."""


class PriceRowError(ValueError):
    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass
class PriceImportReport:
    rows: int = 0
    imported: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (file line, field, reason)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": self.rows, "imported": self.imported, "rejected": len(self.rejected)}
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def currency_rates(text: str | None = None) -> dict[str, Decimal]:
    """ENGAGE_CURRENCY_RATES="USD=1,EUR=1.08,UZS=0.000079": what one unit of each currency is worth in
    one common unit. Only needed when providers bill in different currencies."""
    text = os.environ.get("ENGAGE_CURRENCY_RATES", "") if text is None else text
    rates: dict[str, Decimal] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        code, _, value = item.partition("=")
        code = code.strip().upper()
        try:
            rate = Decimal(value.strip())
        except InvalidOperation:
            rate = Decimal(0)
        if not CURRENCY.match(code) or not rate.is_finite() or rate <= 0:
            raise ValueError(f"ENGAGE_CURRENCY_RATES: {item!r} is not CODE=positive number")
        rates[code] = rate
    return rates


def utc(moment: datetime) -> datetime:
    """Naive times (SQLite gives them back so, CSV rows may have them) are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_prefix(value: str) -> str:
    digits = re.sub(r"[\s\-().]", "", value).removeprefix("+")
    if not digits.isdigit() or not 1 <= len(digits) <= 15:
        raise PriceRowError("prefix", f"{value!r} is not 1 to 15 digits of an international number")
    return digits


def parse_mcc_mnc(value: str) -> str:
    match = MCC_MNC.match(value)
    if not match:
        raise PriceRowError("mcc_mnc", f"{value!r} is not MCC-MNC, e.g. 434-05")
    return f"{match[1]}-{match[2]}"


def parse_price(value: str) -> Decimal:
    try:
        price = Decimal(value)
    except InvalidOperation:
        raise PriceRowError("price", f"{value!r} is not a number") from None
    if not price.is_finite() or price < 0:
        raise PriceRowError("price", f"{value!r} is not a non-negative number")
    if price.as_tuple().exponent < -6:  # type: ignore[operator]
        raise PriceRowError("price", f"{value!r} has more than 6 decimal places")
    if price > MAX_PRICE:
        raise PriceRowError("price", f"{value!r} is too large")
    return price


def parse_valid_from(value: str) -> datetime:
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        return utc(datetime.fromisoformat(value))
    except ValueError:
        raise PriceRowError("valid_from", f"{value!r} is not an ISO date or date-time (2026-01-31 or "
                                     "2026-01-31T08:00:00+05:00)") from None


def parse_row(row: dict[str, str], providers: dict[str, int], default_valid_from: datetime,
              encoding: str | None = None) -> dict[str, Any]:
    if None in row:
        raise PriceRowError("row", "more fields than the header names")
    for name, value in row.items():
        problem = subscriber_rows.text_problem(value or "", subscriber_rows.MAX_FIELD, encoding)
        if problem:
            raise PriceRowError(str(name), problem)
    values = {k: (row.get(k) or "").strip() for k in HEADERS}
    name = values["provider"]
    if not name:
        raise PriceRowError("provider", "missing")
    if name not in providers:
        raise PriceRowError("provider", f"no provider named {name!r} ({known_providers(providers)})")
    if not values["prefix"] and not values["mcc_mnc"]:
        raise PriceRowError("prefix", "a prefix or an mcc_mnc is needed")
    prefix = parse_prefix(values["prefix"]) if values["prefix"] else ""
    mcc_mnc = parse_mcc_mnc(values["mcc_mnc"]) if values["mcc_mnc"] else ""
    if not values["price"]:
        raise PriceRowError("price", "missing")
    price = parse_price(values["price"])
    currency = values["currency"].upper()
    if not CURRENCY.match(currency):
        raise PriceRowError("currency", f"{values['currency']!r} is not a 3-letter ISO 4217 code")
    if len(values["network"]) > 64:
        raise PriceRowError("network", "longer than 64 characters")
    valid_from = parse_valid_from(values["valid_from"]) if values["valid_from"] else default_valid_from
    return {"provider_id": providers[name], "prefix": prefix, "mcc_mnc": mcc_mnc,
            "network": values["network"] or None, "price": price, "currency": currency, "valid_from": valid_from}


def known_providers(providers: dict[str, int], shown: int = 10) -> str:
    """The names a price row may give, said wherever the rejection is read (a page, a report, a terminal)."""
    if not providers:
        return "there is no provider yet: add the provider before its prices"
    names = sorted(providers)
    listed = ", ".join(repr(n) for n in names[:shown])
    return f"the providers are {listed}" + (f" and {len(names) - shown} more" if len(names) > shown else "")


def read_csv(path: Path, providers: dict[str, int], report: PriceImportReport,
             encoding: str | None = None) -> Iterator[dict[str, Any]]:
    try:
        with CsvSource(path, encoding) as source:
            yield from _read_rows(source, providers, report)
    except OSError as exc:
        raise PriceTableError(f"{path}: {exc.strerror}") from None
    except subscriber_rows.RowError as exc:  # the file as a whole: not CSV text, no header
        raise PriceTableError(str(exc)) from None


def _read_rows(source: CsvSource, providers: dict[str, int], report: PriceImportReport) -> Iterator[dict[str, Any]]:
    default_valid_from = datetime.now(UTC).replace(microsecond=0)
    path = source.path
    header = [h.strip() for h in source.header]
    headers = set(header)
    missing = [h for h in REQUIRED_HEADERS if h not in headers]
    if missing or not headers & set(KEY_HEADERS):
        need = missing + ([] if headers & set(KEY_HEADERS) else ["prefix or mcc_mnc"])
        raise PriceTableError(f"{path}: the header lacks {', '.join(need)} (columns: {', '.join(HEADERS)})")
    width = len(header)
    for line, cells in source.records():
        report.rows += 1
        row: dict[Any, Any] = dict(zip(header, cells, strict=False))
        if len(cells) > width:
            row[None] = cells[width:]
        try:
            yield parse_row(row, providers, default_valid_from, source.encoding)
        except PriceRowError as exc:
            report.rejected.append((line, exc.field, exc.reason))
    for line, reason in source.rejected:
        field_name, _, why = reason.partition(": ")
        report.rows += 1
        report.rejected.append((line, field_name, why) if why else (line, "row", reason))
    report.rejected.sort()


def upsert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """One statement per batch; a key seen twice in a batch keeps its last row."""
    if not rows:
        return
    rows = list({tuple(r[k] for k in KEY): r for r in rows}.values())
    stmt = conflict_insert(conn, route_prices).values(rows)
    stmt = stmt.on_conflict_do_update(index_elements=list(KEY), set_={
        "price": stmt.excluded.price, "currency": stmt.excluded.currency, "network": stmt.excluded.network,
        "created_at": func.now()})
    conn.execute(stmt)


def import_csv(engine: Engine, path: Path, *, actor: str, batch_size: int = 1000,
               progress: Callable[[int], None] | None = None, encoding: str | None = None) -> PriceImportReport:
    """Good rows are written in batches as they come; a row with the key (provider, prefix, mcc_mnc,
    valid_from) of an existing one updates its price. Rows without valid_from take the import's start.
    `encoding`: the file's, when it is not UTF-8 and has no byte order mark."""
    report = PriceImportReport()
    with engine.connect() as conn:
        providers = dict(conn.execute(select(Provider.name, Provider.id)).all())
    currencies: set[str] = set()
    batch: list[dict[str, Any]] = []
    for row in read_csv(path, providers, report, encoding):
        batch.append(row)
        currencies.add(row["currency"])
        if len(batch) >= batch_size:
            with engine.begin() as conn:
                upsert(conn, batch)
            report.imported += len(batch)
            batch = []
            if progress:
                progress(report.rows)
    with engine.begin() as conn:
        upsert(conn, batch)
        report.imported += len(batch)
        audit(conn, actor, "routes.import", "route_prices", None, file=path.name, rows=report.rows,
              imported=report.imported, rejected=len(report.rejected))
        currencies |= set(conn.execute(select(RoutePrice.currency).distinct()).scalars())
    if progress:
        progress(report.rows)
    report.warnings.extend(currency_warnings(currencies))
    return report


def currency_warnings(currencies: set[str]) -> list[str]:
    if len(currencies) < 2:
        return []
    try:
        rates = currency_rates()
    except ValueError as exc:
        return [str(exc)]
    unrated = sorted(currencies - set(rates))
    if not unrated:
        return []
    return [f"price tables use {', '.join(sorted(currencies))} but ENGAGE_CURRENCY_RATES has no rate for "
            f"{', '.join(unrated)}: prices in those rank after every comparable price"]


def write_rejections(report: PriceImportReport, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["line", "field", "reason"])
        writer.writerows(report.rejected)


def current_prices(conn: Connection, now: datetime | None = None) -> list[Any]:
    """The rows in force at `now`: per provider and key, the one with the latest valid_from <= now;
    oldest first, so that a reader keeping the last of conflicting rows keeps the newest."""
    now = utc(now or datetime.now(UTC))
    rows = conn.execute(select(route_prices).where(RoutePrice.valid_from <= now).order_by(
        RoutePrice.valid_from, RoutePrice.id)).all()
    latest = {(r.provider_id, r.prefix, r.mcc_mnc): r for r in rows}
    return sorted(latest.values(), key=lambda r: (utc(r.valid_from), r.id))


def list_prices(conn: Connection, provider: str | None = None, *,
                now: datetime | None = None) -> list[dict[str, Any]]:
    """Every row, with whether it is the one in force now (superseded and future rows are kept)."""
    query = (select(route_prices, Provider.name.label("provider")).join(Provider, Provider.id == RoutePrice.provider_id)
             .order_by(Provider.name, RoutePrice.prefix, RoutePrice.mcc_mnc, RoutePrice.valid_from))
    if provider is not None:
        query = query.where(Provider.name == provider)
    in_force = {r.id for r in current_prices(conn, now)}
    return [{"provider": r.provider, "prefix": r.prefix or None, "mcc_mnc": r.mcc_mnc or None, "network": r.network,
             "price": str(r.price), "currency": r.currency, "valid_from": utc(r.valid_from).isoformat(),
             "current": r.id in in_force} for r in conn.execute(query)]
