"""A menu document read with its line numbers, so that every error can say where to look.

YAML and JSON alike go through PyYAML's composer (JSON is YAML, nearly: a JSON document that YAML
would read differently is read by json first and its lines found by the composer), which keeps
each node's start mark. Mappings and lists come back as `Mapping` / `Sequence` carrying the line of
the node and of each key or item; scalars come back as plain Python values."""

from __future__ import annotations

import json
from typing import Any

import yaml

MAX_DOCUMENT = 200_000  # characters: a menu is a few dozen screens
MAX_DEPTH = 20  # nested mappings and lists: a menu document needs five


class SourceError(ValueError):
    """A document that cannot be read at all: its line (1-based) when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message, self.line = message, line
        super().__init__(f"line {line}: {message}" if line else message)


class Mapping(dict):  # type: ignore[type-arg]
    """A mapping of the document: `line` is where it starts, `lines[key]` where each key is."""

    line: int = 0
    lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class Sequence(list):  # type: ignore[type-arg]
    """A list of the document: `line` is where it starts, `lines[i]` where item i is."""

    line: int = 0
    lines: list[int]

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


def line_of(value: Any, default: int = 0) -> int:
    return getattr(value, "line", default) or default


class _Loader(yaml.SafeLoader):
    """Safe YAML (no Python objects) whose duplicate keys are an error, not the last one winning."""


def load(text: str) -> Mapping:
    """The document's top-level mapping, every mapping and list in it carrying its lines."""
    if len(text) > MAX_DOCUMENT:
        raise SourceError(f"the document is over {MAX_DOCUMENT:,} characters ({len(text):,})")
    if text.lstrip().startswith(("{", "[")):
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        if text.lstrip().startswith(("{", "[")):  # valid JSON that YAML reads otherwise: no lines, but read
            return _from_json(text)
        mark = exc.problem_mark or exc.context_mark
        raise SourceError(f"not valid YAML: {exc.problem or exc.context}",
                          mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise SourceError(f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if node is None:
        raise SourceError("the document is empty", 1)
    value = _value(node, _Loader(""), 0)
    if not isinstance(value, Mapping):
        raise SourceError("the document must be a mapping (screens: ...)", node.start_mark.line + 1)
    return value


def _from_json(text: str) -> Mapping:
    def mapping(pairs: list[tuple[str, Any]]) -> Mapping:
        out = Mapping(pairs)
        out.line, out.lines = 1, {}
        return out

    def wrap(value: Any) -> Any:
        if isinstance(value, list):
            items = Sequence(wrap(v) for v in value)
            items.line, items.lines = 1, [1] * len(items)
            return items
        if isinstance(value, Mapping):
            for key, item in value.items():
                value[key] = wrap(item)
        return value

    value = wrap(json.loads(text, object_pairs_hook=mapping))
    if not isinstance(value, Mapping):
        raise SourceError("the document must be a mapping (screens: ...)", 1)
    return value


def _value(node: yaml.Node, constructor: yaml.SafeLoader, depth: int) -> Any:
    line = node.start_mark.line + 1
    if depth > MAX_DEPTH:
        raise SourceError(f"nested over {MAX_DEPTH} deep", line)
    if isinstance(node, yaml.MappingNode):
        out = Mapping()
        out.line, out.lines = line, {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SourceError("a key must be a plain name", key_node.start_mark.line + 1)
            key = constructor.construct_object(key_node)
            if isinstance(key, bool | float) or key is None:  # yes/no/on/off or 1.5 as a key: the text was meant
                key = key_node.value
            if key in out:
                raise SourceError(f"{key!r} is given twice (first at line {out.lines[key]})",
                                  key_node.start_mark.line + 1)
            out[key] = _value(value_node, constructor, depth + 1)
            out.lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        items = Sequence(_value(item, constructor, depth + 1) for item in node.value)
        items.line, items.lines = line, [item.start_mark.line + 1 for item in node.value]
        return items
    try:
        value = constructor.construct_object(node)
    except yaml.YAMLError as exc:
        raise SourceError(f"cannot read {node.value!r}: {exc}", line) from None
    if isinstance(value, bool) and node.value.lower() not in ("true", "false"):
        return node.value  # YAML 1.1 reads yes/no/on/off as booleans; in a menu they are words people see
    return value
