"""A segment's definition said in a sentence, for the places where people read it rather than edit it
(the segments list): "City is Tashkent and Age: at least 18", not the JSON tree. The words are the
builder's (segments.vocabulary, each kind's label and its parameters' options), so a list and the
builder never call one thing by two names. A part the words do not know (a kind removed since, a
parameter misspelt) is shown as it is written rather than left out: a summary that hid part of a
definition would say the segment selects more people than it does."""

from __future__ import annotations

from typing import Any

from engage.engine import subscriber_fields as sf
from engage.engine.segments import vocabulary
from engage.engine.segments.criteria import FREE_KEYS, Kind, registry

GROUP_WORDS = {"and": " and ", "or": " or "}


def summarise(definition: Any) -> str:
    """The definition as one sentence."""
    return _said(definition, top=True)


def _said(node: Any, top: bool = False) -> str:
    if not isinstance(node, dict):
        return str(node)
    for group, joiner in GROUP_WORDS.items():
        if group in node and isinstance(node[group], list):
            text = joiner.join(_said(child) for child in node[group])
            return text if top or len(node[group]) < 2 else f"({text})"
    if "not" in node:
        return f"not ({_said(node['not'], top=True)})"
    name = node.get("kind", "field")
    kind = registry().get(name) if isinstance(name, str) else None
    if kind is None:
        return _as_written(node)
    if kind.name == "field":
        return _field(node)
    return _criterion(kind, node)


def _field(node: dict[str, Any]) -> str:
    field = sf.FIELDS.get(node.get("field")) if isinstance(node.get("field"), str) else None
    if field is None:
        return _as_written(node)
    op = node.get("op", "eq")
    words = f"{vocabulary.field_label(field.name)} {vocabulary.operator_words(field.type, op)}"
    if "value" not in node:
        return words
    labels = vocabulary.choice_labels(field)
    value = node["value"]
    if isinstance(value, list):
        shown = [labels.get(v, v) if isinstance(v, str) else v for v in value]
        return f"{words} {' and '.join(map(vocabulary.shown_value, shown))}" if op == "between" \
            else f"{words} {vocabulary.shown_value(shown)}"
    return f"{words} {vocabulary.shown_value(labels.get(value, value) if isinstance(value, str) else value)}"


def _criterion(kind: Kind, node: dict[str, Any]) -> str:
    parts = []
    compared = any(p.name == "op" for p in kind.params)  # its value is said with the comparison
    for param in kind.params:
        value = node.get(param.name, param.default)
        if value is None or (param.name == "value" and compared):
            continue
        if param.name == "op":
            words = dict(param.options).get(value, value)
            compared = node.get("value")
            if isinstance(compared, list) and value == "between":
                compared = " and ".join(map(vocabulary.shown_value, compared))
            parts.append(f"{words} {vocabulary.shown_value(compared)}" if compared is not None else str(words))
        elif param.options:
            parts.append(str(dict(param.options).get(value, value)))
        elif param.type == "boolean":
            if value:
                parts.append(param.label or vocabulary.tidy(param.name))
        else:
            parts.append(f"{param.label or vocabulary.tidy(param.name)}: {vocabulary.shown_value(value)}")
    unknown = sorted(set(node) - {p.name for p in kind.params} - FREE_KEYS)
    parts += [f"{key}: {vocabulary.shown_value(node[key])}" for key in unknown]
    label = kind.label or vocabulary.tidy(kind.name)
    return f"{label}: {', '.join(parts)}" if parts else label


def _as_written(node: dict[str, Any]) -> str:
    return ", ".join(f"{key}: {vocabulary.shown_value(value)}" for key, value in node.items())
