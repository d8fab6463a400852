"""Relative dates: windows computed in Python from the compile's `now` and bound as constants, so
the SQL compares a column with a constant (`last_activity_at >= :cutoff`), which an index can
serve, and the same definition selects the same people on every run at the same moment.

    {"kind": "in_last_days", "field": "last_activity_at", "days": 30}
        the date/datetime field falls within the last N days (datetime: now - N days .. now;
        date: today - N .. today).
    {"kind": "more_than_days_ago", "field": "last_recharge_at", "days": 30, "include_never": true}
        the field is older than N days; include_never (default false) adds subscribers for
        whom it is empty ("never recharged").
    {"kind": "birthday_within", "days": 7}
        birth_date's month and day fall today or within the next N days (0 = today only),
        across the year end; people born on 29 February celebrate on 28 February in other years.
        The SQL compares birthday_key (month * 100 + day, an integer) with one range of keys, or
        two across the new year, which PostgreSQL's ix_subscribers_birthday (migration 0012)
        serves; it must stay the very expression of that index.

Fields: every date or datetime field of the profile catalogue, and created_at (when the
subscriber was first imported)."""

from __future__ import annotations

from calendar import isleap
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from engage.engine import subscriber_fields as sf
from engage.engine.segments import vocabulary
from engage.engine.segments.criteria import CompileContext, Param, SegmentError, criterion
from engage.engine.segments.kinds._values import get_bool, get_int, got, utc
from engage.engine.store.schema import Subscriber

# name -> (column, is a datetime)
DATE_FIELDS: dict[str, tuple[Any, bool]] = {
    **{f.name: (f.column, f.type == sf.DATETIME) for f in sf.FIELDS.values() if f.type in (sf.DATE, sf.DATETIME)},
    "created_at": (Subscriber.__table__.c.created_at, True),
}
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# every month * 100 + day of a (leap) year, in calendar order: 101 .. 229 .. 1231
_KEYS = tuple(m * 100 + d for m in range(1, 13) for d in range(1, _MONTH_DAYS[m - 1] + 1))


def _date_field(node: dict[str, Any], path: str) -> tuple[Any, bool]:
    name = node.get("field")
    found = DATE_FIELDS.get(name) if isinstance(name, str) else None
    if found is None:
        raise SegmentError(path, f"'field' must be a date field, one of {', '.join(sorted(DATE_FIELDS))}"
                                 f"{got(name)}", param="field")
    return found


def _cutoff(ctx: CompileContext, days: int, is_datetime: bool) -> tuple[date | datetime, date | datetime]:
    """(N days ago, now) in the column's own terms."""
    if is_datetime:
        now = utc(ctx.now)
        return now - timedelta(days=days), now
    today = ctx.now.date()
    return today - timedelta(days=days), today


_FIELD = Param("field", "field", f"a date field: {', '.join(sorted(DATE_FIELDS))}", label="date",
               options=tuple((name, vocabulary.field_label(name)) for name in DATE_FIELDS), ask="choose a date")
_DAYS = Param("days", "integer", "number of days, at least 1", label="days", ask="enter a number of days")


def _title(node: dict[str, Any]) -> str | None:
    """Called by its date ("Last activity"), once that is one."""
    name = node.get("field")
    return vocabulary.field_label(name) if isinstance(name, str) and name in DATE_FIELDS else None


@criterion("in_last_days", label="Date in the last N days", title=_title, params=(_FIELD, _DAYS))
def in_last_days(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """A date or datetime field falls within the last N days."""
    column, is_datetime = _date_field(node, path)
    start, end = _cutoff(ctx, get_int(node, "days", path, minimum=1), is_datetime)
    return and_(column >= start, column <= end)


@criterion("more_than_days_ago", label="Date more than N days ago", title=_title, params=(
    _FIELD, _DAYS,
    Param("include_never", "boolean", "also match subscribers with no value (default false)", required=False,
          default=False, label="or never (no date)"),
))
def more_than_days_ago(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """A date or datetime field is older than N days, optionally or empty ("never")."""
    column, is_datetime = _date_field(node, path)
    cutoff, _ = _cutoff(ctx, get_int(node, "days", path, minimum=1), is_datetime)
    if get_bool(node, "include_never", path, False):
        return or_(column < cutoff, column.is_(None))
    return column < cutoff


def birthday_days(today: date, days: int) -> dict[int, set[int]]:
    """Month -> days of month in today .. today + days, with 29 February wherever 28 February
    of a common year is in the window."""
    wanted: dict[int, set[int]] = {}
    for offset in range(days + 1):
        day = today + timedelta(days=offset)
        wanted.setdefault(day.month, set()).add(day.day)
        if day.month == 2 and day.day == 28 and not isleap(day.year):
            wanted[2].add(29)
    return wanted


class birthday_key(FunctionElement):
    """A date's month * 100 + day as an integer (31 December = 1231), so a window of birthdays is
    a range of one integer. On PostgreSQL it is written exactly as the expression of the index
    ix_subscribers_birthday (migration 0012): the planner matches an index expression only when
    the query has the same one. date_part() returns double precision, which is cheaper to index
    than EXTRACT's numeric; the constants are SQL literals, not bound parameters, for the same
    reason. SQLite has no date_part, and no such index."""

    type = Integer()
    inherit_cache = True
    name = "birthday_key"


@compiles(birthday_key)
def _birthday_key_default(element: birthday_key, compiler: Any, **kw: Any) -> str:
    (birth,) = list(element.clauses)
    column = compiler.process(birth, **kw)
    return f"CAST(date_part('month', {column}) * 100 + date_part('day', {column}) AS INTEGER)"


@compiles(birthday_key, "sqlite")
def _birthday_key_sqlite(element: birthday_key, compiler: Any, **kw: Any) -> str:
    (birth,) = list(element.clauses)
    return f"CAST(strftime('%m%d', {compiler.process(birth, **kw)}) AS INTEGER)"


def birthday_ranges(today: date, days: int) -> list[tuple[int, int]]:
    """birthday_days as inclusive ranges of birthday_key, in calendar order: one range, or two
    when the window crosses the new year. A range may span keys that are no date (131 .. 201
    covers 132 .. 200); no birth date has them, so they select nobody."""
    wanted = {m * 100 + d for m, days_of_month in birthday_days(today, days).items() for d in days_of_month}
    ranges: list[tuple[int, int]] = []
    for previous, key in zip((None, *_KEYS), _KEYS, strict=False):
        if key not in wanted:
            continue
        if previous in wanted:  # the run goes on
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges


@criterion("birthday_within", label="Birthday within the next N days", params=(
    Param("days", "integer", "0 = birthday today; N = today or within the next N days (up to 366)", label="days",
          ask="enter a number of days (0 for today)"),
))
def birthday_within(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """The subscriber's birthday is today or within the next N days."""
    days = get_int(node, "days", path, minimum=0, maximum=366)
    ranges = birthday_ranges(ctx.now.date(), days)
    known = Subscriber.birth_date.is_not(None)  # also the index's predicate
    if ranges == [(_KEYS[0], _KEYS[-1])]:  # the whole year: everyone with a birth date, no index wanted
        return known
    key = birthday_key(Subscriber.birth_date)
    return and_(known, or_(*(key == low if low == high else key.between(low, high) for low, high in ranges)))
