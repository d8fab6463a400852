"""Kind "field": a subscriber profile field compared with a value.

    {"field": "city", "op": "eq", "value": "Tashkent"}             ("kind": "field" may be omitted)
    {"field": "balance", "op": "between", "value": [10, 50]}
    {"field": "city", "op": "in", "value": ["Tashkent", "Bukhara"]}
    {"field": "first_name", "op": "starts_with", "value": "Az"}
    {"field": "roaming", "op": "eq", "value": true}
    {"field": "birth_date", "op": "empty"}                          (no "value")

Which fields exist and which operators fit each comes from the profile catalogue
(`engage.engine.subscriber_fields`), and every value goes through the catalogue's own `parse`,
so a segment accepts exactly what an import would store ("gender": "f" matches the stored "F")
and a bad value is an error naming the field. "ne" and "not_in" include subscribers whose field
is empty: an unknown city is "not Tashkent". contains / starts_with are case-sensitive on both
databases. A requester shown numbers masked may test msisdn only as far as the mask shows
(segments.masked_numbers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_

from engage.engine import subscriber_fields as sf
from engage.engine.segments import masked_numbers, vocabulary
from engage.engine.segments.criteria import CompileContext, Param, SegmentError, criterion
from engage.engine.segments.kinds._values import Threshold, compare, text_position, utc

_COMMON = ("eq", "ne", "in", "not_in")
_ORDERED = ("lt", "le", "gt", "ge", "between")
_PRESENCE = ("empty", "not_empty")
OPERATORS: dict[str, tuple[str, ...]] = {
    sf.TEXT: _COMMON + _ORDERED + ("contains", "starts_with") + _PRESENCE,  # ordered: number ranges
    sf.CHOICE: _COMMON + _PRESENCE,
    sf.NUMBER: _COMMON + _ORDERED + _PRESENCE,
    sf.INTEGER: _COMMON + _ORDERED + _PRESENCE,
    sf.DATE: _COMMON + _ORDERED + _PRESENCE,
    sf.DATETIME: _ORDERED + _PRESENCE,
    sf.BOOL: ("eq", "ne") + _PRESENCE,
}


def parse_value(field: sf.SubscriberField, raw: Any, path: str) -> Any:
    """One value as the catalogue would store it; errors name the field."""
    ask = vocabulary.value_ask(field, "eq")
    if isinstance(raw, list | dict):
        raise SegmentError(path, f"{field.name}: needs a single value, not a {type(raw).__name__}", hint=ask)
    try:
        value = field.parse(raw)
    except sf.FieldValueError as exc:
        raise SegmentError(path, str(exc), hint=ask) from None
    if value is None:
        raise SegmentError(path, f"{field.name}: 'value' is required (use op 'empty' for no value)", hint=ask)
    return utc(value) if field.type == sf.DATETIME else value


def parse_list(field: sf.SubscriberField, raw: Any, path: str) -> list[Any]:
    if not isinstance(raw, list) or not raw:
        raise SegmentError(path, f"{field.name}: 'value' must be a non-empty list",
                           hint=vocabulary.value_ask(field, "in"))
    return [parse_value(field, v, path) for v in raw]


def field_condition(field: sf.SubscriberField, op: str, raw: Any, path: str) -> ColumnElement[bool]:
    """The condition for one catalogue field: shared with the loyalty kinds."""
    column = field.column
    if op not in OPERATORS[field.type]:
        raise SegmentError(path, f"unknown operator {op!r} for {field.type} field {field.name}; "
                                 f"allowed: {', '.join(OPERATORS[field.type])}",
                           hint="choose " + vocabulary.join_or(
                               [vocabulary.operator_words(field.type, o) for o in OPERATORS[field.type]]))
    text_like = field.type in (sf.TEXT, sf.CHOICE)
    if op == "empty":
        return or_(column.is_(None), column == "") if text_like else column.is_(None)
    if op == "not_empty":
        return and_(column.is_not(None), column != "") if text_like else column.is_not(None)
    if op == "in":
        return column.in_(parse_list(field, raw, path))
    if op == "not_in":
        return or_(column.not_in(parse_list(field, raw, path)), column.is_(None))
    if op == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            raise SegmentError(path, f"{field.name}: 'between' needs 'value': [low, high]",
                               hint=vocabulary.value_ask(field, op))
        low, high = (parse_value(field, v, path) for v in raw)
        if low > high:
            raise SegmentError(path, f"{field.name}: 'between' needs low <= high", hint="put the smaller value first")
        return and_(column >= low, column <= high)
    value = parse_value(field, raw, path)
    if op == "contains":
        return text_position(column, value) > 0
    if op == "starts_with":
        return func.substr(column, 1, len(value)) == value
    if op == "ne":
        return or_(column != value, column.is_(None))
    return compare(column, Threshold(op, value))


def lookup(name: Any, path: str) -> sf.SubscriberField:
    field = sf.FIELDS.get(name) if isinstance(name, str) else None
    if field is None:
        if name is None:
            raise SegmentError(path, "'field' is required: a profile field", param="field")
        raise SegmentError(path, f"unknown field {name!r}; known: {', '.join(sorted(sf.FIELDS))}", param="field")
    return field


def _details() -> dict[str, Any]:
    """Each field with its words: its label, its operators' ("is at least"), its choices', and what to
    enter as its value with each operator ("enter a date")."""
    return {"fields": [{"name": f.name, "label": vocabulary.field_label(f.name), "type": f.type,
                        "operators": list(OPERATORS[f.type]),
                        "operator_labels": {op: vocabulary.operator_words(f.type, op) for op in OPERATORS[f.type]},
                        "asks": {op: vocabulary.value_ask(f, op) for op in OPERATORS[f.type] if op not in _PRESENCE},
                        **({"choices": list(f.choices), "choice_labels": vocabulary.choice_labels(f)}
                           if f.choices else {})} for f in sf.FIELDS.values()]}


def _title(node: dict[str, Any]) -> str | None:
    """A field criterion is called by its field ("City"), once the field is one."""
    name = node.get("field")
    return vocabulary.field_label(name) if isinstance(name, str) and name in sf.FIELDS else None


@criterion("field", label="Profile field", details=_details, title=_title, params=(
    Param("field", "field", "a profile field, see 'fields'", label="field", ask="choose a field"),
    Param("op", "operator", "one of the field's operators; default eq", required=False, default="eq",
          label="comparison"),
    Param("value", "any", "a value of the field's type; a list for in/not_in/between; none for empty/not_empty",
          required=False, label="value", ask="enter a value"),
))
def field_criterion(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """A subscriber profile field compared with a value."""
    field = lookup(node.get("field"), path)
    op = node.get("op", "eq")
    if ctx.masked and field.name == masked_numbers.NUMBER_FIELD and op in OPERATORS[field.type]:
        value = parse_value(field, node.get("value"), path) if op == "starts_with" else None
        masked_numbers.check_field(op, value, path)
    return field_condition(field, op, node.get("value"), path)
