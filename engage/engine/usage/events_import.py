"""Importing usage events (CDR extracts: calls, data sessions, SMS, recharges, purchases) from CSV
or Parquet: columns msisdn, kind, at, amount. Every row is validated; a bad row or a number
with no subscriber is reported with its line (CSV) or row (Parquet) and the reason; good rows
are stored a chunk per transaction. Events dated before the usage totals' as_of are added to the
totals in the same transaction, so counts stay exact; a refresh afterwards (the default) makes
the new events cheap to read. The file is read as a subscriber file is (csv_source: encodings,
binary files refused, a quote left open costs one row); an event given twice in a file (the same
number, after E.164, kind, time and amount) is stored and counted once."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from engage.engine.phones import InvalidNumber, to_e164
from engage.engine.store.schema import Subscriber, UsageEvent
from engage.engine.subscribers.importer import add_source_rejections, open_source
from engage.engine.subscribers.rows import MAX_FIELD, NUMBER_HEADERS, RowError, check_texts
from engage.engine.subscribers.seen import Seen
from engage.engine.usage import USAGE_KINDS, totals

CHUNK_ROWS = 20_000
COLUMNS = ("kind", "at", "amount")
FUTURE_SLACK = timedelta(days=1)  # clocks differ; an event dated later than this is a typo

Event = tuple[int, str, datetime, float]  # subscriber_id, kind, at (UTC), amount


@dataclass
class UsageReport:
    rows: int = 0
    imported: int = 0
    late: int = 0  # events dated before the totals' as_of, added to them
    rejected: list[tuple[int, str]] = field(default_factory=list)
    label: str = "line"
    refreshed: dict[str, Any] | None = None
    duplicates: int = 0  # rows repeating an event given earlier in the file

    def as_dict(self) -> dict[str, Any]:
        out = {"rows": self.rows, "imported": self.imported, "rejected": len(self.rejected),
               "late": self.late, "refreshed": self.refreshed}
        if self.duplicates:
            out["duplicates"] = self.duplicates
        return out


class _Layout:
    """Which cell is which, from the header; names the missing columns."""

    def __init__(self, header: Sequence[str]) -> None:
        names = [h.strip().lower() for h in header]
        number = next((names.index(n) for n in NUMBER_HEADERS if n in names), None)
        missing = [c for c in COLUMNS if c not in names]
        if number is None or missing:
            wanted = ["msisdn"] * (number is None) + missing
            raise RowError(f"the header needs column(s) {', '.join(wanted)}; it has {', '.join(header)}")
        self.number, self.kind, self.at, self.amount = number, *(names.index(c) for c in COLUMNS)
        self.names = [h.strip() for h in header]
        self.limits = [MAX_FIELD] * len(header)


def parse(cells: Sequence[Any], layout: _Layout, region: str, now: datetime) -> tuple[str, str, datetime, float]:
    """One row -> (E.164 number, kind, UTC time, amount); RowError naming the field otherwise."""
    try:
        number = to_e164(str(cells[layout.number] or ""), region)
    except InvalidNumber as exc:
        raise RowError(f"msisdn: {exc}") from None
    except IndexError:
        raise RowError("the row has fewer cells than the header") from None
    kind = str(cells[layout.kind] or "").strip().lower()
    if kind not in USAGE_KINDS:
        raise RowError(f"kind: {kind!r} is not one of {', '.join(USAGE_KINDS)}")
    return number, kind, _time(cells[layout.at], now), _amount(cells[layout.amount])


def _time(raw: Any, now: datetime) -> datetime:
    if isinstance(raw, datetime):
        moment = raw
    else:
        try:
            moment = datetime.fromisoformat(str(raw or "").strip().replace("Z", "+00:00"))
        except ValueError:
            raise RowError(f"at: {raw!r} is not a date-time (YYYY-MM-DDTHH:MM:SS, UTC unless an offset is given)") \
                from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment > now + FUTURE_SLACK:
        raise RowError(f"at: {moment.isoformat()} is in the future")
    return moment


def _amount(raw: Any) -> float:
    try:
        value = float(raw) if not isinstance(raw, str) else float(raw.strip())
    except (TypeError, ValueError):
        raise RowError(f"amount: {raw!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise RowError(f"amount: {raw!r} must be a number of at least 0")
    return value


def import_events(engine: Engine, path: Path, region: str, *, refresh: bool = True,
                  progress: Callable[[int], None] | None = None, chunk_rows: int = CHUNK_ROWS,
                  encoding: str | None = None) -> UsageReport:
    """Import a file of usage events; RowError for a file that cannot be read at all. `encoding`:
    a CSV's, when it is not UTF-8 and has no byte order mark."""
    source = open_source(path, encoding)
    now = datetime.now(UTC)
    seen = Seen()
    with source:
        layout = _Layout(source.header)
        report = UsageReport(label=source.label)
        for chunk in _chunks(source.records(), chunk_rows):
            parsed = []
            for where, cells in chunk:
                report.rows += 1
                try:
                    check_texts(cells, layout.names, layout.limits, source.encoding)
                    parsed.append((where, *parse(cells, layout, region, now)))
                except RowError as exc:
                    report.rejected.append((where, str(exc)))
            _store(engine, parsed, report, seen)
            if progress:
                progress(report.rows)
        add_source_rejections(report, source.rejected)
    report.rejected.sort()
    if refresh and report.imported:
        report.refreshed = totals.refresh(engine)
    return report


def _chunks(records: Iterator[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    chunk: list[tuple[int, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _store(engine: Engine, parsed: list[tuple[int, str, str, datetime, float]], report: UsageReport,
           seen: Seen) -> None:
    """One transaction: numbers to subscriber ids (one query), the events, the late ones to the totals.
    An event the file gave before is left out and counted as a duplicate."""
    if not parsed:
        return
    with engine.begin() as conn:
        ids = dict(conn.execute(select(Subscriber.msisdn, Subscriber.id).where(
            Subscriber.msisdn.in_({p[1] for p in parsed}))).all())
        events: list[Event] = []
        for where, number, kind, at, amount in parsed:
            subscriber_id = ids.get(number)
            if subscriber_id is None:
                report.rejected.append((where, f"msisdn: no subscriber has the number {number}"))
            else:
                events.append((subscriber_id, kind, at, amount))
        first = seen.first_times(events)
        report.duplicates += first.count(False)
        events = [event for event, new in zip(events, first, strict=True) if new]
        if not events:
            return
        totals.lock(conn)
        write_events(conn, events)
        summed_at = totals.as_of(conn)
        if summed_at is not None:
            totals.add_late(conn, events)
            report.late += sum(1 for e in events if e[2] <= summed_at)
        report.imported += len(events)


def write_events(conn: Connection, events: Sequence[Event]) -> None:
    """COPY on PostgreSQL (no SQL text per row), executemany elsewhere."""
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy("COPY usage_events (subscriber_id, kind, at, amount) FROM STDIN") as copy:
            for event in events:
                copy.write_row(event)
        return
    conn.execute(insert(UsageEvent.__table__), [
        {"subscriber_id": s, "kind": k, "at": at, "amount": a} for s, k, at, a in events])
