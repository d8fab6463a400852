"""Message templates: Jinja2 in a sandbox, because marketing staff write them and a template
must never reach Python internals. Missing fields render empty or with `default`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engage.engine.templates.encoding import TextInfo, analyse

_env = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False)

FIELDS = ("msisdn", "first_name", "last_name", "language", "gender", "birth_date", "region", "city",
          "branch", "timezone", "balance")


class TemplateError(ValueError):
    """A template that cannot be used, with where: line and column when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class Rendered:
    text: str
    info: TextInfo


class CompiledTemplate:
    """Parsed once per campaign, rendered once per recipient."""

    def __init__(self, body: str):
        try:
            tree = _env.parse(body)
            self._template = _env.from_string(body)
            names = meta.find_undeclared_variables(tree)
        except TemplateSyntaxError as exc:
            raise TemplateError(exc.message or "syntax error", exc.lineno) from None
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", "")
            if isinstance(key, str) and key.startswith("_"):
                raise TemplateError(f"{key!r} is not a field a template may use", node.lineno)
        allowed = set(FIELDS) | {"attributes", "sender"}
        unknown = sorted(names - allowed)
        if unknown:
            raise TemplateError(f"unknown field {unknown[0]!r}; use one of {', '.join(sorted(allowed))}")
        self.static = not names
        self._static: Rendered | None = None

    def render(self, context: dict[str, Any]) -> Rendered:
        if self.static:  # the same text for everyone: render and measure it once
            if self._static is None:
                text = self._template.render().strip()
                self._static = Rendered(text, analyse(text))
            return self._static
        # A NULL column is a missing value: `default` applies and nothing renders as "None".
        text = self._template.render({k: v for k, v in context.items() if v is not None}).strip()
        return Rendered(text, analyse(text))


def check(body: str) -> None:
    """Raise TemplateError if the template would fail at send time."""
    CompiledTemplate(body)
