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

Fields: every date or datetime field of the profile catalogue, and created_at (when the
subscriber was first imported)."""

from __future__ import annotations

from calendar import isleap
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, extract, or_

from engage.engine import subscriber_fields as sf
from engage.engine.segments.criteria import CompileContext, Param, SegmentError, criterion
from engage.engine.segments.kinds._values import get_bool, get_int, utc
from engage.engine.store.schema import Subscriber

# name -> (column, is a datetime)
DATE_FIELDS: dict[str, tuple[Any, bool]] = {
    **{f.name: (f.column, f.type == sf.DATETIME) for f in sf.FIELDS.values() if f.type in (sf.DATE, sf.DATETIME)},
    "created_at": (Subscriber.__table__.c.created_at, True),
}
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _date_field(node: dict[str, Any], path: str) -> tuple[Any, bool]:
    name = node.get("field")
    found = DATE_FIELDS.get(name) if isinstance(name, str) else None
    if found is None:
        raise SegmentError(path, f"'field' must be a date field, one of {', '.join(sorted(DATE_FIELDS))}; "
                                 f"got {name!r}")
    return found


def _cutoff(ctx: CompileContext, days: int, is_datetime: bool) -> tuple[date | datetime, date | datetime]:
    """(N days ago, now) in the column's own terms."""
    if is_datetime:
        now = utc(ctx.now)
        return now - timedelta(days=days), now
    today = ctx.now.date()
    return today - timedelta(days=days), today


_FIELD = Param("field", "field", f"a date field: {', '.join(sorted(DATE_FIELDS))}")
_DAYS = Param("days", "integer", "number of days, at least 1")


@criterion("in_last_days", params=(_FIELD, _DAYS))
def in_last_days(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """A date or datetime field falls within the last N days."""
    column, is_datetime = _date_field(node, path)
    start, end = _cutoff(ctx, get_int(node, "days", path, minimum=1), is_datetime)
    return and_(column >= start, column <= end)


@criterion("more_than_days_ago", params=(
    _FIELD, _DAYS,
    Param("include_never", "boolean", "also match subscribers with no value (default false)", required=False),
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


@criterion("birthday_within", params=(
    Param("days", "integer", "0 = birthday today; N = today or within the next N days (up to 366)"),
))
def birthday_within(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """The subscriber's birthday is today or within the next N days."""
    days = get_int(node, "days", path, minimum=0, maximum=366)
    month, day = extract("month", Subscriber.birth_date), extract("day", Subscriber.birth_date)
    terms = []
    for m, days_of_month in sorted(birthday_days(ctx.now.date(), days).items()):
        if len(days_of_month) >= _MONTH_DAYS[m - 1]:
            terms.append(month == m)
        else:
            terms.append(and_(month == m, day.in_(sorted(days_of_month))))
    return and_(Subscriber.birth_date.is_not(None), or_(*terms))
