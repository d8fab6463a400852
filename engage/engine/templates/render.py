"""Message templates: Jinja2 in a sandbox, because marketing staff write them and a template
must never reach Python internals. Missing fields render empty or with `default`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, meta
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
            self._template = _env.from_string(body)
            names = meta.find_undeclared_variables(_env.parse(body))
        except TemplateSyntaxError as exc:
            raise TemplateError(exc.message or "syntax error", exc.lineno) from None
        allowed = set(FIELDS) | {"attributes", "sender"}
        unknown = sorted(names - allowed)
        if unknown:
            raise TemplateError(f"unknown field {unknown[0]!r}; use one of {', '.join(sorted(allowed))}")
        self.static = not names

    def render(self, context: dict[str, Any]) -> Rendered:
        text = self._template.render(context).strip()
        return Rendered(text, analyse(text))


def check(body: str) -> None:
    """Raise TemplateError if the template would fail at send time."""
    CompiledTemplate(body)
