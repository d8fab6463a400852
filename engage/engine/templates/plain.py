"""Most campaign templates are text with a few plain fields ("Hi {{ first_name }}, ..."). Those are
written here by joining the text and the recipient's values, not by running Jinja in its sandbox:
the same text for a fifth of the CPU, which at a million recipients is the dispatcher's largest cost.

A plan is made only for a template whose every part is literal text or a bare name of a recipient
field, and it writes a recipient only when every value it reads is text (or missing, which renders
empty, as in Jinja). Anything else (a number, a date, a dict of attributes, an output over the
limit on text) returns None and the caller renders with Jinja, where the formatting and the limits
are. tests/test_template_plain.py holds the two to the same output.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from jinja2 import nodes

from engage.engine.templates import limits


class PlainTemplate:
    """Literal texts and field names, in the template's order."""

    __slots__ = ("_pieces",)

    def __init__(self, pieces: list[tuple[str, str | None]]) -> None:
        self._pieces = pieces

    def render(self, values: Mapping[str, Any]) -> str | None:
        """The text (stripped, as Jinja's render here is), or None when Jinja must write it."""
        out = []
        for literal, name in self._pieces:
            if name is None:
                out.append(literal)
                continue
            value = values.get(name)
            if value is None:
                continue
            if type(value) is not str:
                return None
            out.append(value)
        text = "".join(out).strip()
        return text if len(text) <= limits.MAX_TEXT else None


def plan(tree: nodes.Template, fields: Collection[str]) -> PlainTemplate | None:
    """The template as literal text and bare ``{{ field }}`` outputs, if that is all it is."""
    pieces: list[tuple[str, str | None]] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                pieces.append((child.data, None))
            elif isinstance(child, nodes.Name) and child.ctx == "load" and child.name in fields:
                pieces.append(("", child.name))
            else:
                return None
    return PlainTemplate(pieces)
