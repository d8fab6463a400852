"""The periods of a loyalty report: days, weeks (from Monday) or months as the reader's time zone
draws them, grouped in the database on both stores.

A report's period is a range of the reader's days, first and last included; its figures are those
posted in [first day's midnight, the day after the last's midnight) there, in UTC instants. Rows are
put in their day, week or month by one SQL expression per store: PostgreSQL converts to the zone
itself (date_trunc of `AT TIME ZONE`); SQLite knows no zones, so the zone's offsets over the range are
worked out here (they change only at summer time, a couple of times a year) and a CASE adds the one
in force to each row's UTC time. Both give the period's first day as text, YYYY-MM-DD.

SQLite keeps timestamps as UTC text; a bound is compared as whole-second text, so a row posted at
exactly midnight is in the day it starts, whatever the digits after its seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, String, case, func, literal, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from engage.engine.users.accounts import UserError
from engage.engine.users.zones import check_zone

GRANULARITIES = ("day", "week", "month")
MAX_PERIODS = 731  # two years of days: a page of rows a person can still read
SQLITE_TIME = "%Y-%m-%d %H:%M:%S"


class ReportError(ValueError):
    """A report asked for wrongly: `field` names what (from, to, by, timezone, table)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Span:
    first: date  # the first day, in `zone`
    last: date  # the last day, included
    by: str
    zone: str
    start: datetime  # UTC: the first day's midnight in `zone`
    end: datetime  # UTC: the midnight after the last day, excluded


def span(first: date, last: date, by: str = "month", zone: str = "UTC") -> Span:
    """The report's range, checked: ReportError naming the field that is wrong."""
    if by not in GRANULARITIES:
        raise ReportError("by", f"{str(by)[:20]!r} is not one of {', '.join(GRANULARITIES)}")
    if last < first:
        raise ReportError("to", f"{last.isoformat()} is before the first day, {first.isoformat()}")
    try:
        zone = check_zone(zone)
    except UserError as exc:
        raise ReportError("timezone", str(exc).split(": ", 1)[-1]) from None
    made = Span(first, last, by, zone, _midnight(first, zone), _midnight(last + timedelta(days=1), zone))
    if len(labels(made)) > MAX_PERIODS:
        raise ReportError("by", f"{len(labels(made)):,} periods of a {by} from {first} to {last}: at most "
                                f"{MAX_PERIODS} (choose a shorter range or a longer period)")
    return made


def day(text: str, field: str) -> date:
    """A typed day, or ReportError naming the field."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(field, f"{text.strip()[:30]!r} is not a date such as 2026-11-30") from None


def labels(made: Span) -> list[date]:
    """The first day of every period of the range, in order (the first and last may be partial)."""
    at, out = period_of(made.first, made.by), []
    while at <= made.last:
        out.append(at)
        at = _next(at, made.by)
    return out


def period_of(moment: date, by: str) -> date:
    if by == "week":
        return moment - timedelta(days=moment.weekday())
    return moment.replace(day=1) if by == "month" else moment


def _next(first: date, by: str) -> date:
    if by == "month":
        return date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first + timedelta(days=7 if by == "week" else 1)


def _midnight(moment: date, zone: str) -> datetime:
    return datetime.combine(moment, time(), ZoneInfo(zone)).astimezone(UTC)


def within(conn: Connection, column: Any, made: Span) -> list[ColumnElement[bool]]:
    """The conditions that put a timestamp column in the range."""
    if conn.dialect.name == "postgresql":
        return [column >= made.start, column < made.end]
    text = type_coerce(column, String)
    return [text >= _text(made.start), text < _text(made.end)]


def bucket(conn: Connection, column: Any, made: Span) -> ColumnElement[str]:
    """The first day of the period a timestamp column falls in, in the span's zone, as YYYY-MM-DD."""
    if conn.dialect.name == "postgresql":
        local = func.timezone(literal(made.zone, String), column)
        return func.to_char(func.date_trunc(literal(made.by, String), local), "YYYY-MM-DD")
    text = type_coerce(column, String)
    shifts = _offsets(made.zone, made.start, made.end)
    if len(shifts) == 1:
        shift: ColumnElement[str] = literal(_modifier(shifts[0][1]), String)
    else:
        shift = case(*[(text < _text(at), literal(_modifier(before), String))
                       for (_, before), (at, _) in zip(shifts, shifts[1:], strict=False)],
                     else_=literal(_modifier(shifts[-1][1]), String))
    local = func.datetime(text, shift)
    if made.by == "day":
        return func.date(local)
    if made.by == "week":
        return func.date(local, "-6 days", "weekday 1")  # the Monday on or before
    return func.strftime("%Y-%m-01", local)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(SQLITE_TIME)


def _modifier(minutes: int) -> str:
    return f"{minutes:+d} minutes"


def _offsets(zone: str, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[(from when, the zone's offset in minutes)] over [start, end): the first from `start`, then one
    per change (found to the second between two days of different offsets)."""
    tz = ZoneInfo(zone)

    def offset(epoch: int) -> int:
        return int(datetime.fromtimestamp(epoch, tz).utcoffset().total_seconds() // 60)  # type: ignore[union-attr]

    now, stop = int(start.timestamp()), int(end.timestamp())
    out = [(start, offset(now))]
    while now < stop:
        later = min(now + 86400, stop)
        if offset(later) != offset(now):
            low, high = now, later
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == offset(low) else (low, middle)
            out.append((datetime.fromtimestamp(high, UTC), offset(high)))
        now = later
    return out
