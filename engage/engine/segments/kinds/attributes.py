"""Kind "attribute": a custom attribute, one of the extra columns an import keeps as JSON text.

    {"kind": "attribute", "name": "plan", "op": "eq", "value": "gold"}
    {"kind": "attribute", "name": "plan", "op": "in", "value": ["gold", "silver"]}
    {"kind": "attribute", "name": "referrer", "op": "not_empty"}

Operators: eq, ne, in, not_in, contains, starts_with, empty, not_empty. Attributes are stored as
text (the import writes strings), so values are compared as text: a number in the definition is
compared as its text. "ne" / "not_in" include subscribers without the attribute. The attribute
name is bound as a JSON path parameter, and must be a plain identifier."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_

from engage.engine import subscriber_fields as sf
from engage.engine.segments import vocabulary
from engage.engine.segments.criteria import CompileContext, Param, SegmentError, criterion
from engage.engine.segments.kinds._values import got, text_position
from engage.engine.store.schema import Subscriber

OPERATORS = ("eq", "ne", "in", "not_in", "contains", "starts_with", "empty", "not_empty")


def _text(raw: Any, path: str, name: str) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float) or raw == "":
        raise SegmentError(path, f"attribute {name}: 'value' must be non-empty text or a number{got(raw)}",
                           hint="enter a value")
    return str(raw)


def _texts(raw: Any, path: str, name: str) -> list[str]:
    if not isinstance(raw, list) or not raw:
        raise SegmentError(path, f"attribute {name}: 'value' must be a non-empty list",
                           hint="enter one or more values, separated by commas")
    return [_text(v, path, name) for v in raw]


@criterion("attribute", label="Custom attribute", params=(
    Param("name", "string", "the attribute's name (an imported extra column)", label="attribute",
          ask="enter the attribute's name, as in the imported file's header"),
    Param("op", "operator", f"one of {', '.join(OPERATORS)}; default eq", required=False, default="eq",
          label="comparison", options=tuple((op, vocabulary.operator_words(sf.TEXT, op)) for op in OPERATORS)),
    Param("value", "string", "text; a list for in/not_in; none for empty/not_empty", required=False,
          label="value", ask="enter a value"),
))
def attribute_criterion(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """A custom attribute (an imported extra column) compared with a text value."""
    name = node.get("name")
    if name is None:
        raise SegmentError(path, "'name' is required: the attribute's name", param="name")
    if not isinstance(name, str) or not name.isidentifier():
        raise SegmentError(path, f"attribute name {name!r} must be a plain identifier", param="name",
                           hint="enter the attribute's name: letters, digits and _, as in the imported file")
    op = node.get("op", "eq")
    if op not in OPERATORS:
        raise SegmentError(path, f"unknown operator {op!r} for attribute {name}; allowed: {', '.join(OPERATORS)}",
                           param="op")
    value = Subscriber.attributes[name].as_string()
    raw = node.get("value")
    if op == "empty":
        return or_(value.is_(None), value == "")
    if op == "not_empty":
        return and_(value.is_not(None), value != "")
    if op == "in":
        return value.in_(_texts(raw, path, name))
    if op == "not_in":
        return or_(value.not_in(_texts(raw, path, name)), value.is_(None))
    text = _text(raw, path, name)
    if op == "eq":
        return value == text
    if op == "ne":
        return or_(value != text, value.is_(None))
    if op == "contains":
        return text_position(value, text) > 0
    return func.substr(value, 1, len(text)) == text
