"""The texts of a menu in the subscriber's language, with values filled in by the Jinja2 sandbox
message templates use (templates/sandbox.py, through templates.render.environment: the same
limits, the same filters, numbers and dates written in the text's language).

Texts and conditions are compiled once per process and kept (by source and language), so a hop
renders without parsing; a text with no `{` is not a template at all and is returned as it is.
Also here: the engine's own lines (hints, More, Back) and their wording per language."""

from __future__ import annotations

import decimal
import threading
from typing import Any

from jinja2 import Template, TemplateSyntaxError

from engage.engine.templates import limits
from engage.engine.templates.render import environment, template_line

CACHE = 20_000  # compiled texts kept per process (emptied when full)
_compiled: dict[tuple[str, str], Template] = {}
_lock = threading.Lock()

# The engine's own lines; a menu may word them itself (messages: in the document).
MESSAGES: dict[str, dict[str, str]] = {
    "en": {"invalid_option": "Invalid choice, please try again.", "invalid_input": "Invalid answer.",
           "more": "More", "back": "Back", "expired": "Your session has expired. Please dial {code} again.",
           "unavailable": "This service is not available. Please check the code you dialled.",
           "failed": "Sorry, something went wrong. Please try again later."},
    "ru": {"invalid_option": "Неверный выбор, попробуйте ещё раз.", "invalid_input": "Неверный ответ.",
           "more": "Ещё", "back": "Назад", "expired": "Сеанс истёк. Наберите {code} ещё раз.",
           "unavailable": "Услуга недоступна. Проверьте набранный код.",
           "failed": "Извините, произошла ошибка. Попробуйте позже."},
}


class TextError(ValueError):
    """A text or condition that cannot be compiled or rendered; `line` is the template's own line."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message, self.line = message, line
        super().__init__(message)


def pick(texts: dict[str, str] | None, language: str | None, default: str) -> str:
    """The text in the language, else in the menu's default language, else any there is."""
    if not texts:
        return ""
    if language and language in texts:
        return texts[language]
    if language and "-" in language and language.split("-")[0] in texts:  # pt-BR -> pt
        return texts[language.split("-")[0]]
    return texts.get(default) or next(iter(texts.values()))


def message(key: str, language: str | None, menu: dict[str, Any] | None = None) -> str:
    """One of the engine's own lines: the menu's wording in the language, else the built-in one."""
    own = (menu or {}).get("messages") or {}
    default = (menu or {}).get("language") or "en"
    for lang in (language, default):
        if lang and key in own.get(lang, {}):
            return own[lang][key]
    for lang in (language, default, "en"):
        if lang and key in MESSAGES.get(lang, {}):
            return MESSAGES[lang][key]
    return MESSAGES["en"][key]


def compile_text(source: str, language: str) -> Template | None:
    """The compiled template (None for a text with no template syntax); raises TextError."""
    if "{" not in source:
        return None
    key = (source, language)
    found = _compiled.get(key)
    if found is not None:
        return found
    if len(source) > limits.MAX_BODY:
        raise TextError(f"the text is over {limits.MAX_BODY:,} characters")
    env = environment(language)
    try:
        template = env.from_string(limits.bound(env.parse(source)))
    except TemplateSyntaxError as exc:
        raise TextError(exc.message or "syntax error", exc.lineno) from None
    except (RecursionError, SyntaxError):
        raise TextError("too deeply nested") from None
    with _lock:
        if len(_compiled) >= CACHE:
            _compiled.clear()
        _compiled[key] = template
    return template


def render(source: str, language: str, context: dict[str, Any]) -> str:
    """The text with its values; raises TextError when the sandbox refuses or an expression fails."""
    template = compile_text(source, language)
    if template is None:
        return source.strip()
    try:
        with decimal.localcontext(limits.DECIMALS):
            return template.render(context).strip()
    except Exception as exc:  # the sandbox, a limit, a type error in an expression: the menu's, not the hop's
        raise TextError(f"cannot render: {exc}", template_line(exc)) from None


def condition_source(expr: str) -> str:
    return "{% if (" + expr + ") %}1{% endif %}"


def holds(expr: str, language: str, context: dict[str, Any]) -> bool:
    """A router's expression condition, e.g. "loyalty_tier == 'gold' and balance > 0"."""
    return render(condition_source(expr), language, context) == "1"
