"""Checking a criterion's parameters, and the few SQL pieces several kinds share.

Every check raises SegmentError with the criterion's path and a message that names the
parameter, so a bad value is reported where it is, never turned into a query that selects the
wrong people; and with the parameter's name or what to enter instead, so that the builder can say
it in a marketer's words. An absent value is said to be missing, never "got None". Comparison
helpers build expressions with bound values only."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, Integer, Select, and_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.sql.functions import FunctionElement

from engage.engine.segments import vocabulary
from engage.engine.segments.criteria import Param, SegmentError
from engage.engine.store.schema import Subscriber

OPS = ("eq", "ne", "lt", "le", "gt", "ge", "between")
_COMPARE = {"eq": operators.eq, "ne": operators.ne, "lt": operators.lt, "le": operators.le,
            "gt": operators.gt, "ge": operators.ge}
_INVERSE = {"eq": "ne", "ne": "eq", "lt": "ge", "le": "gt", "gt": "le", "ge": "lt"}
MAX_DAYS = 36600  # a century: larger windows are typos


def threshold_op(default: str = "ge") -> Param:
    """The "op" of a measure compared with a number (age, points, usage), offered in words ("at least")."""
    return Param("op", "operator", f"one of {', '.join(OPS)}; default {default}", required=False, default=default,
                 label="comparison", options=tuple((op, vocabulary.THRESHOLD_WORDS[op]) for op in OPS))


def _present(node: dict[str, Any], key: str, path: str) -> Any:
    if node.get(key) is None:
        raise SegmentError(path, f"{key!r} is required", param=key)
    return node[key]


def got(value: Any) -> str:
    """The wrong value, quoted after a message; an empty one said in words."""
    return " (it is empty)" if value is None else f", got {value!r}"


def _range_ask(minimum: float, maximum: float) -> str:
    return (f"enter a whole number from {minimum} to {maximum}" if maximum < 10**6
            else f"enter a whole number of {minimum} or more")


def get_int(node: dict[str, Any], key: str, path: str, *, minimum: int = 0, maximum: int = MAX_DAYS,
            default: int | None = None) -> int:
    """A whole number within bounds: days, ids, counts."""
    if node.get(key) is None and default is not None:
        return default
    value = _present(node, key, path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SegmentError(path, f"{key!r} must be a whole number{got(value)}", param=key,
                           hint="enter a whole number")
    if not minimum <= value <= maximum:
        raise SegmentError(path, f"{key!r} must be between {minimum} and {maximum}, got {value}", param=key,
                           hint=_range_ask(minimum, maximum))
    return value


def get_number(value: Any, key: str, path: str, *, integer: bool = False) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SegmentError(path, f"{key!r} must be a number{got(value)}", param=key,
                           hint="enter a whole number" if integer else "enter a number")
    if integer and not float(value).is_integer():
        raise SegmentError(path, f"{key!r} must be a whole number{got(value)}", param=key,
                           hint="enter a whole number")
    return int(value) if integer else value


def get_bool(node: dict[str, Any], key: str, path: str, default: bool) -> bool:
    value = node.get(key, default)
    if not isinstance(value, bool):
        raise SegmentError(path, f"{key!r} must be true or false{got(value)}", param=key)
    return value


def get_choice(node: dict[str, Any], key: str, path: str, choices: tuple[str, ...],
               default: str | None = None) -> str:
    value = node.get(key, default)
    if value is None:
        raise SegmentError(path, f"{key!r} is required: one of {', '.join(choices)}", param=key)
    if value not in choices:
        raise SegmentError(path, f"{key!r} must be one of {', '.join(choices)}{got(value)}", param=key)
    return value


def get_str_list(node: dict[str, Any], key: str, path: str, *, max_length: int = 200) -> list[str]:
    """A non-empty list of non-empty strings (tags, tiers, prefixes), duplicates dropped."""
    value = _present(node, key, path)
    if not isinstance(value, list) or not value:
        raise SegmentError(path, f"{key!r} must be a non-empty list", param=key)
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item) > max_length:
            raise SegmentError(path, f"{key!r} items must be non-empty text up to {max_length} characters"
                                     f"{got(item)}", param=key)
    return sorted({item.strip() for item in value})


@dataclass(frozen=True)
class Threshold:
    """A comparison of an aggregate or a measure with a constant: op and value ((low, high) for between)."""

    op: str
    value: Any

    def holds_for_zero(self) -> bool:
        """Whether 0 satisfies it: then people with nothing recorded (no events, no points) match too."""
        if self.op == "between":
            return self.value[0] <= 0 <= self.value[1]
        return self.holds(0)

    def holds(self, x: float) -> bool:
        """The comparison evaluated in Python, for values already known."""
        if self.op == "between":
            return bool(self.value[0] <= x <= self.value[1])
        return bool(_COMPARE[self.op](x, self.value))


def get_threshold(node: dict[str, Any], path: str, *, integer: bool = False, minimum: float | None = None,
                  default_op: str = "ge") -> Threshold:
    """{"op": "ge", "value": 100} or {"op": "between", "value": [10, 20]}."""
    op = get_choice(node, "op", path, OPS, default_op)
    raw = _present(node, "value", path)
    if op == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            raise SegmentError(path, f"'between' needs 'value': [low, high], got {raw!r}", param="value",
                               hint="enter both ends of the range")
        low, high = (get_number(v, "value", path, integer=integer) for v in raw)
        if low > high:
            raise SegmentError(path, f"'between' needs low <= high, got [{low}, {high}]", param="value",
                               hint="put the smaller number first")
        values = [low, high]
    else:
        values = [get_number(raw, "value", path, integer=integer)]
    if minimum is not None and min(values) < minimum:
        raise SegmentError(path, f"'value' must be at least {minimum}, got {raw!r}", param="value",
                           hint=f"enter {minimum:g} or more")
    return Threshold(op, tuple(values) if op == "between" else values[0])


def compare(expr: Any, t: Threshold) -> ColumnElement[bool]:
    if t.op == "between":
        return and_(expr >= t.value[0], expr <= t.value[1])
    return _COMPARE[t.op](expr, t.value)


def compare_not(expr: Any, t: Threshold) -> ColumnElement[bool]:
    """The opposite comparison, written out (not NOT) so it stays a plain range."""
    if t.op == "between":
        return or_(expr < t.value[0], expr > t.value[1])
    return _COMPARE[_INVERSE[t.op]](expr, t.value)


def utc(moment: datetime) -> datetime:
    """Timestamps are stored in UTC (SQLite keeps the wall clock it is given), so cutoffs are too."""
    return moment.astimezone(UTC)


def escape_like(text: str) -> str:
    """Literal text inside a LIKE pattern (escape character backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class text_position(FunctionElement):
    """Where `needle` first occurs in `haystack` (1-based, 0 = absent), case-sensitive on both
    databases; LIKE is case-insensitive on SQLite and case-sensitive on PostgreSQL."""

    type = Integer()
    inherit_cache = True
    name = "text_position"


@compiles(text_position)
def _position_default(element: text_position, compiler: Any, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"strpos({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


@compiles(text_position, "sqlite")
def _position_sqlite(element: text_position, compiler: Any, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"instr({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


class utc_day(FunctionElement):
    """The UTC calendar day of a stored timestamp, the same on both databases."""

    type = Date()
    inherit_cache = True
    name = "utc_day"


@compiles(utc_day)
def _utc_day_default(element: utc_day, compiler: Any, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    return f"CAST(({compiler.process(moment, **kw)} AT TIME ZONE 'UTC') AS DATE)"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    return f"date({compiler.process(moment, **kw)})"


def by_threshold(grouped: Select, aggregate: Any, t: Threshold) -> ColumnElement[bool]:
    """Subscribers whose aggregate over `grouped` (SELECT subscriber_id ... GROUP BY subscriber_id)
    satisfies t. When 0 satisfies it, subscribers with no rows at all match as well: they are
    selected as "not among those whose aggregate fails", since an IN over the rows would miss them."""
    if t.holds_for_zero():
        return Subscriber.id.not_in(grouped.having(compare_not(aggregate, t)))
    return Subscriber.id.in_(grouped.having(compare(aggregate, t)))
