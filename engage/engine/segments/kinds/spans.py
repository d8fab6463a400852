"""How long ago something began, in whole units: tenure (since activation_date) and age (since
birth_date). The comparison is turned, in Python, into a range of the date column itself
("age >= 18" is "birth_date <= today minus 18 years"), so the SQL compares the column with a
bound date and can use an index, and no date arithmetic runs per row.

    {"kind": "tenure", "unit": "days", "op": "ge", "value": 90}       unit: days (default) | months
    {"kind": "tenure", "unit": "months", "op": "between", "value": [6, 12]}
    {"kind": "age", "op": "between", "value": [18, 25]}               ops: eq ne lt le gt ge between

Whole units completed: 1 month after 15 March is 15 April; someone who joined on the last day
of a month completes a month on the last day of each later month; people born on 29 February
turn a year older on 28 February in common years (as birthday_within greets them)."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from engage.engine.segments.criteria import CompileContext, Param, SegmentError, criterion
from engage.engine.segments.kinds._values import get_choice, get_threshold, threshold_op
from engage.engine.store.schema import Subscriber

_LIMITS = {"days": 36600, "months": 1200, "years": 150}


def units_ago(today: date, n: int, unit: str) -> date:
    """The latest start date that has completed n units by today."""
    if unit == "days":
        return today - timedelta(days=n)
    months = n * 12 if unit == "years" else n
    index = today.year * 12 + today.month - 1 - months
    year, month = divmod(index, 12)
    last = monthrange(year, month + 1)[1]
    at_month_end = today.day == monthrange(today.year, today.month)[1]
    return date(year, month + 1, last if at_month_end else min(today.day, last))


def span_condition(column: Any, node: dict[str, Any], path: str, today: date, unit: str) -> ColumnElement[bool]:
    """column's whole units until today compared as node's op/value say."""
    t = get_threshold(node, path, integer=True, minimum=0)
    values = t.value if t.op == "between" else (t.value,)
    if max(values) > _LIMITS[unit]:
        raise SegmentError(path, f"'value' must be at most {_LIMITS[unit]} {unit}, got {max(values)}",
                           param="value", hint=f"enter at most {_LIMITS[unit]} {unit}")

    def at_least(n: int) -> Any:  # units >= n
        return units_ago(today, n, unit)

    if t.op == "between":
        low, high = t.value
        return and_(column <= at_least(low), column > at_least(high + 1))
    v = t.value
    return {
        "ge": lambda: column <= at_least(v),
        "gt": lambda: column <= at_least(v + 1),
        "lt": lambda: column > at_least(v),
        "le": lambda: column > at_least(v + 1),
        "eq": lambda: and_(column <= at_least(v), column > at_least(v + 1)),
        "ne": lambda: or_(column > at_least(v), column <= at_least(v + 1)),
    }[t.op]()


@criterion("tenure", label="Customer for", params=(
    threshold_op(),
    Param("value", "integer", "whole units since activation_date; [low, high] for between", label="how long",
          ask="enter a whole number of days or months"),
    Param("unit", "string", "days (default) or months", required=False, default="days", label="unit",
          options=(("days", "days"), ("months", "months"))),
))
def tenure(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """Days or months since activation_date, compared with a value."""
    unit = get_choice(node, "unit", path, ("days", "months"), "days")
    return span_condition(Subscriber.activation_date, node, path, ctx.now.date(), unit)


@criterion("age", label="Age", params=(
    threshold_op(), Param("value", "integer", "age in years; [low, high] for between", label="years",
                          ask="enter an age in years"),
))
def age(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """Age in whole years from birth_date, compared with a value."""
    return span_condition(Subscriber.birth_date, node, path, ctx.now.date(), "years")
