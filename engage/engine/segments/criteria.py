"""Criterion kinds: each is one small unit that registers itself, and turns one JSON
criterion into a SQL condition with bound values (never pasted into the SQL text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_
from sqlalchemy.sql import operators

from engage.engine.store.schema import Subscriber


class SegmentError(ValueError):
    """A criterion that cannot be compiled; `path` says where it sits in the tree."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


CriterionFn = Callable[[dict[str, Any], str], ColumnElement[bool]]
CRITERIA: dict[str, CriterionFn] = {}


def criterion(kind: str) -> Callable[[CriterionFn], CriterionFn]:
    def register(fn: CriterionFn) -> CriterionFn:
        CRITERIA[kind] = fn
        return fn

    return register


FIELDS = {
    "msisdn": Subscriber.msisdn, "first_name": Subscriber.first_name, "last_name": Subscriber.last_name,
    "language": Subscriber.language, "gender": Subscriber.gender, "birth_date": Subscriber.birth_date,
    "region": Subscriber.region, "city": Subscriber.city, "branch": Subscriber.branch,
    "timezone": Subscriber.timezone, "balance": Subscriber.balance,
}
NUMERIC_FIELDS = {"balance"}


def _scalar(value: Any, path: str, field: str) -> Any:
    if isinstance(value, list | dict):
        raise SegmentError(path, f"{field} needs a single value, not {type(value).__name__}")
    if field in NUMERIC_FIELDS:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SegmentError(path, f"{field} needs a number, got {value!r}") from None
    return value


def _list(value: Any, path: str, field: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise SegmentError(path, f"{field} needs a non-empty list of values")
    return [_scalar(v, path, field) for v in value]


_COMPARISONS = {"eq": operators.eq, "ne": operators.ne, "lt": operators.lt, "le": operators.le,
                "gt": operators.gt, "ge": operators.ge}


@criterion("field")
def field_criterion(node: dict[str, Any], path: str) -> ColumnElement[bool]:
    """A subscriber column compared with a value: {"field": "city", "op": "eq", "value": "Tashkent"}."""
    name = node.get("field")
    column = FIELDS.get(name)
    if column is None:
        raise SegmentError(path, f"unknown field {name!r}; known: {', '.join(sorted(FIELDS))}")
    op = node.get("op", "eq")
    value = node.get("value")
    if op in _COMPARISONS:
        return _COMPARISONS[op](column, _scalar(value, path, name))
    if op == "in":
        return column.in_(_list(value, path, name))
    if op == "not_in":
        return or_(column.not_in(_list(value, path, name)), column.is_(None))
    if op == "between":
        low, high = _list(value, path, name) if isinstance(value, list) and len(value) == 2 else (None, None)
        if low is None:
            raise SegmentError(path, f"between needs [low, high] for {name}")
        return and_(column >= low, column <= high)
    if op in ("contains", "starts_with"):
        text = str(_scalar(value, path, name)).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{text}%" if op == "contains" else f"{text}%"
        return column.like(pattern, escape="\\")
    if op == "empty":
        return or_(column.is_(None), column == "") if name not in NUMERIC_FIELDS else column.is_(None)
    if op == "not_empty":
        return and_(column.is_not(None), column != "") if name not in NUMERIC_FIELDS else column.is_not(None)
    raise SegmentError(path, f"unknown operator {op!r} for field {name}")


@criterion("attribute")
def attribute_criterion(node: dict[str, Any], path: str) -> ColumnElement[bool]:
    """A custom attribute from the import's extra columns: {"kind": "attribute", "name": "plan", "value": "gold"}."""
    name = node.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise SegmentError(path, f"attribute name {name!r} must be a plain identifier")
    op = node.get("op", "eq")
    value = Subscriber.attributes[name].as_string()
    if op == "eq":
        return value == str(node.get("value"))
    if op == "ne":
        return or_(value != str(node.get("value")), value.is_(None))
    if op == "in":
        return value.in_([str(v) for v in _list(node.get("value"), path, name)])
    raise SegmentError(path, f"unknown operator {op!r} for attribute {name}")


def compile_node(node: Any, path: str = "segment") -> ColumnElement[bool]:
    """AND / OR / NOT groups, nested, of criteria."""
    if not isinstance(node, dict):
        raise SegmentError(path, f"expected an object, got {type(node).__name__}")
    for group, combine in (("and", and_), ("or", or_)):
        if group in node:
            children = node[group]
            if not isinstance(children, list) or not children:
                raise SegmentError(path, f"{group!r} needs a non-empty list")
            return combine(*(compile_node(c, f"{path}.{group}[{i}]") for i, c in enumerate(children)))
    if "not" in node:
        return not_(compile_node(node["not"], f"{path}.not"))
    kind = node.get("kind", "field")
    fn = CRITERIA.get(kind)
    if fn is None:
        raise SegmentError(path, f"unknown criterion kind {kind!r}; known: {', '.join(sorted(CRITERIA))}")
    return fn(node, path)
