"""A menu document's shape: what each screen type takes, read into the compiled form that is stored
beside the source (ussd_menus.compiled) and walked by flow.py.

Every mistake of shape is reported at its line, and reading goes on past it, so that a person
fixing a menu sees every error at once. What needs more than one screen to judge (where `next`
leads, which screens are reachable, templates, actions) is validation.py's.

The compiled form is plain JSON:

    {"name": str | None, "language": "en", "languages": [...], "start": "home", "messages": {lang: {key: text}},
     "screens": {id: {"type": ..., "line": n, ...}}}

    menu   {"text": T, "options": [{"label": T, "next": id, "line": n}]}
    input  {"text": T, "validate": {"kind": name, ...params}, "save": name, "next": id, "error": T | None}
    text   {"text": T, "next": id | None}          (no next: the session ends on it, like end)
    end    {"text": T}
    router {"routes": [{"if": condition, "next": id, "line": n}], "default": id}
    action {"action": name, "params": {...}, "on": {outcome: id}, "default": id | None, "save": prefix | None}

T is {language: text}; a condition is {"expr": jinja expression} or {"field": name, "op": op, "value": v}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engage.engine.ussd.source import Mapping, Sequence

TYPES = ("menu", "input", "text", "end", "router", "action")
KEYS = {
    "menu": {"type", "text", "options"},
    "input": {"type", "text", "validate", "save", "next", "error"},
    "text": {"type", "text", "next"},
    "end": {"type", "text"},
    "router": {"type", "routes", "default"},
    "action": {"type", "action", "params", "on", "default", "save"},
}
TOP_KEYS = {"name", "language", "start", "messages", "screens"}
OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "set", "unset")
MAX_OPTIONS = 97  # 98 is "More", 0 and 00 are "Back" and "Home"
MAX_SCREENS = 500
SCREEN_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}\Z")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")  # a session value: usable as {{ name }}
LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?\Z")
MESSAGE_KEYS = ("invalid_option", "invalid_input", "more", "back", "expired", "unavailable", "failed")


@dataclass(frozen=True)
class MenuError:
    """One mistake in a menu document: where (line, 1-based; the screen) and what."""

    line: int | None
    screen: str | None
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}" if self.line else "", f"screen {self.screen!r}" if self.screen else ""]
        return ": ".join([*(w for w in where if w), self.message])

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "screen": self.screen, "message": self.message}


class _Reader:
    def __init__(self) -> None:
        self.errors: list[MenuError] = []
        self.languages: set[str] = set()
        self.default_language = "en"

    def error(self, line: int | None, screen: str | None, message: str) -> None:
        self.errors.append(MenuError(line or None, screen, message))

    def text(self, value: Any, line: int, screen: str | None, what: str) -> dict[str, str] | None:
        """A text for people: one for every language, or one per language ({en: ..., ru: ...})."""
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return {self.default_language: str(value)}
        if isinstance(value, Mapping) and value:
            out = {}
            for language, text in value.items():
                at = value.line_of(language)
                if not isinstance(language, str) or not LANGUAGE.match(language):
                    self.error(at, screen, f"{what}: {language!r} is not a language code (en, ru, uz, pt-BR...)")
                elif not isinstance(text, str | int | float) or isinstance(text, bool):
                    self.error(at, screen, f"{what}.{language}: a text")
                else:
                    out[language] = str(text)
                    self.languages.add(language)
            if out and self.default_language not in out:
                self.error(value.line, screen, f"{what}: no text in the menu's language {self.default_language!r}, "
                                               "which is what other languages fall back to")
            return out or None
        self.error(line, screen, f"{what}: a text, or a text per language ({{en: ..., ru: ...}})")
        return None

    def screen_id(self, value: Any, line: int, screen: str | None, what: str) -> str | None:
        if isinstance(value, str) and SCREEN_ID.match(value):
            return value
        self.error(line, screen, f"{what}: a screen id (a name such as 'home' or 'profile.birthday')")
        return None


def compile_menu(doc: Mapping) -> tuple[dict[str, Any], list[MenuError]]:
    """The compiled menu and every mistake of shape, in the order of the document."""
    r = _Reader()
    for key in doc:
        if key not in TOP_KEYS:
            r.error(doc.line_of(key), None, f"unknown key {key!r} (a menu has {', '.join(sorted(TOP_KEYS))})")
    language = doc.get("language", "en")
    if isinstance(language, str) and LANGUAGE.match(language):
        r.default_language = language
    else:
        r.error(doc.line_of("language"), None, "language: the menu's default language code, e.g. en")
    r.languages.add(r.default_language)
    name = doc.get("name")
    if name is not None and not (isinstance(name, str) and 0 < len(name.strip()) <= 100):
        r.error(doc.line_of("name"), None, "name: a text of 1 to 100 characters")
        name = None
    screens_in = doc.get("screens")
    screens: dict[str, Any] = {}
    if not isinstance(screens_in, Mapping) or not screens_in:
        r.error(doc.line_of("screens"), None, "screens: a mapping of screen id -> screen, at least one")
    elif len(screens_in) > MAX_SCREENS:
        r.error(screens_in.line, None, f"screens: over {MAX_SCREENS} screens")
    else:
        for screen_id, body in screens_in.items():
            at = screens_in.line_of(screen_id)
            if r.screen_id(screen_id, at, None, f"screen id {screen_id!r}") is None:
                continue
            screen = _screen(r, screen_id, body, at)
            if screen is not None:
                screens[screen_id] = screen
    start = doc.get("start")
    if start is None:
        start = next(iter(screens_in), None) if isinstance(screens_in, Mapping) else None
    elif r.screen_id(start, doc.line_of("start"), None, "start") is not None and isinstance(screens_in, Mapping) \
            and start not in screens_in:
        r.error(doc.line_of("start"), None, f"start: there is no screen {start!r}")
    messages = _messages(r, doc.get("messages"), doc.line_of("messages"))
    compiled = {"name": name.strip() if isinstance(name, str) else None, "language": r.default_language,
                "languages": sorted(r.languages), "start": start, "messages": messages, "screens": screens}
    return compiled, r.errors


def _messages(r: _Reader, value: Any, line: int) -> dict[str, dict[str, str]]:
    """The menu's own wording of the engine's lines (hints, More, Back...), per language."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        r.error(line, None, f"messages: a mapping of {', '.join(MESSAGE_KEYS)} to texts")
        return {}
    out: dict[str, dict[str, str]] = {}
    for key, text in value.items():
        if key not in MESSAGE_KEYS:
            r.error(value.line_of(key), None, f"messages: unknown message {key!r} (one of {', '.join(MESSAGE_KEYS)})")
            continue
        texts = r.text(text, value.line_of(key), None, f"messages.{key}")
        for language, said in (texts or {}).items():
            out.setdefault(language, {})[key] = said
    return out


def _screen(r: _Reader, sid: str, body: Any, line: int) -> dict[str, Any] | None:
    if not isinstance(body, Mapping):
        r.error(line, sid, f"a screen is a mapping with a type ({', '.join(TYPES)})")
        return None
    kind = body.get("type")
    if kind not in TYPES:
        r.error(body.line_of("type"), sid, f"type: one of {', '.join(TYPES)}" + (f", not {kind!r}" if kind else ""))
        return None
    for key in body:
        if key not in KEYS[kind]:
            r.error(body.line_of(key), sid, f"unknown key {key!r} for {_a(kind)} screen "
                                            f"(it takes {', '.join(sorted(KEYS[kind] - {'type'}))})")
    out: dict[str, Any] = {"type": kind, "line": line}
    if kind in ("menu", "input", "text", "end"):
        if "text" not in body:
            r.error(line, sid, f"{_a(kind)} screen needs a text")
        else:
            out["text"] = r.text(body["text"], body.line_of("text"), sid, "text")
            out["text_line"] = body.line_of("text")
    READERS[kind](r, sid, body, out)
    return out


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _next(r: _Reader, sid: str, body: Mapping, key: str, required: bool) -> str | None:
    if key not in body:
        if required:
            r.error(body.line, sid, f"{key}: the screen to go to next is missing")
        return None
    return r.screen_id(body[key], body.line_of(key), sid, key)


def _menu(r: _Reader, sid: str, body: Mapping, out: dict[str, Any]) -> None:
    options = body.get("options")
    if not isinstance(options, Sequence) or not options:
        r.error(body.line_of("options"), sid, "options: a list of {label, next}, at least one")
        out["options"] = []
        return
    if len(options) > MAX_OPTIONS:
        r.error(options.line, sid, f"options: {len(options)} options; at most {MAX_OPTIONS} (98 is More, 0 is Back)")
    out["options"] = []
    for i, option in enumerate(options):
        at = options.line_of(i)
        if not isinstance(option, Mapping) or "label" not in option:
            r.error(at, sid, f"option {i + 1}: a mapping with label and next")
            continue
        for key in option:
            if key not in ("label", "next"):
                r.error(option.line_of(key), sid, f"option {i + 1}: unknown key {key!r} (label, next)")
        label = r.text(option["label"], option.line_of("label"), sid, f"option {i + 1} label")
        target = _next(r, sid, option, "next", True)
        out["options"].append({"label": label, "next": target, "line": at, "next_line": option.line_of("next")})


def _input(r: _Reader, sid: str, body: Mapping, out: dict[str, Any]) -> None:
    rule = body.get("validate", "text")
    if isinstance(rule, str):
        out["validate"] = {"kind": rule}
    elif isinstance(rule, Mapping) and isinstance(rule.get("kind"), str):
        out["validate"] = dict(rule)
    else:
        r.error(body.line_of("validate"), sid, "validate: a validator's name (digits, amount, pin, phone, date, regex, "
                                               "text) or a mapping with kind and its parameters")
        out["validate"] = {"kind": "text"}
    out["validate_line"] = body.line_of("validate")
    save = body.get("save", re.sub(r"[^A-Za-z0-9_]", "_", sid))
    if not (isinstance(save, str) and NAME.match(save)):
        r.error(body.line_of("save"), sid, "save: the name to keep the answer under, letters, digits and _ "
                                           "(usable as {{ name }})")
        save = None
    out["save"] = save
    out["next"] = _next(r, sid, body, "next", True)
    out["next_line"] = body.line_of("next")
    out["error"] = r.text(body["error"], body.line_of("error"), sid, "error") if "error" in body else None


def _text(r: _Reader, sid: str, body: Mapping, out: dict[str, Any]) -> None:
    out["next"] = _next(r, sid, body, "next", False)
    out["next_line"] = body.line_of("next")


def _end(r: _Reader, sid: str, body: Mapping, out: dict[str, Any]) -> None:
    pass


def _router(r: _Reader, sid: str, body: Mapping, out: dict[str, Any]) -> None:
    routes = body.get("routes", Sequence())
    out["routes"] = []
    if not isinstance(routes, Sequence):
        r.error(body.line_of("routes"), sid, "routes: a list of {if, next}")
        routes = Sequence()
    for i, route in enumerate(routes):
        at = routes.line_of(i)
        if not isinstance(route, Mapping) or "if" not in route:
            r.error(at, sid, f"route {i + 1}: a mapping with if and next")
            continue
        for key in route:
            if key not in ("if", "next"):
                r.error(route.line_of(key), sid, f"route {i + 1}: unknown key {key!r} (if, next)")
        condition = condition_of(r, sid, route["if"], route.line_of("if"), f"route {i + 1}")
        out["routes"].append({"if": condition, "next": _next(r, sid, route, "next", True), "line": at,
                              "next_line": route.line_of("next")})
    out["default"] = _next(r, sid, body, "default", True)
    out["default_line"] = body.line_of("default")


def condition_of(r: _Reader, sid: str, value: Any, line: int, what: str) -> dict[str, Any] | None:
    """`if: "loyalty_tier == 'gold'"` (a Jinja expression) or `if: {field: loyalty_tier, op: eq, value: gold}`."""
    if isinstance(value, str) and value.strip():
        return {"expr": value.strip()}
    if isinstance(value, Mapping) and isinstance(value.get("field"), str):
        op = value.get("op", "eq")
        for key in value:
            if key not in ("field", "op", "value"):
                r.error(value.line_of(key), sid, f"{what}: unknown key {key!r} (field, op, value)")
        if op not in OPS:
            r.error(value.line_of("op"), sid, f"{what}: op is one of {', '.join(OPS)}")
            return None
        if op not in ("set", "unset") and "value" not in value:
            r.error(value.line, sid, f"{what}: op {op} needs a value")
            return None
        if op in ("in", "not_in") and not isinstance(value.get("value"), Sequence):
            r.error(value.line_of("value"), sid, f"{what}: op {op} needs a list of values")
            return None
        plain = value.get("value")
        return {"field": value["field"], "op": op, "value": list(plain) if isinstance(plain, list) else plain}
    r.error(line, sid, f"{what}: if is an expression (\"loyalty_tier == 'gold'\") or {{field, op, value}}")
    return None


def _action(r: _Reader, sid: str, body: Mapping, out: dict[str, Any]) -> None:
    name = body.get("action")
    if not isinstance(name, str) or not name:
        r.error(body.line_of("action"), sid, "action: the name of a registered action")
    out["action"] = name if isinstance(name, str) else None
    out["action_line"] = body.line_of("action")
    params = body.get("params", Mapping())
    if not isinstance(params, Mapping):
        r.error(body.line_of("params"), sid, "params: a mapping of the action's parameters")
        params = Mapping()
    out["params"] = _plain(params)
    out["params_line"] = body.line_of("params")
    on = body.get("on", Mapping())
    out["on"] = {}
    if not isinstance(on, Mapping):
        r.error(body.line_of("on"), sid, "on: a mapping of outcome -> screen")
    else:
        for outcome, target in on.items():
            if isinstance(outcome, str):
                out["on"][outcome] = r.screen_id(target, on.line_of(outcome), sid, f"on.{outcome}")
            else:
                r.error(on.line_of(outcome), sid, f"on: {outcome!r} is not an outcome name")
    out["on_line"] = body.line_of("on")
    out["default"] = _next(r, sid, body, "default", False)
    out["default_line"] = body.line_of("default")
    save = body.get("save")
    if save is not None and not (isinstance(save, str) and NAME.match(save)):
        r.error(body.line_of("save"), sid, "save: a name to keep the action's results under")
        save = None
    out["save"] = save


def _plain(value: Any) -> Any:
    """Mappings and lists of the document as plain dicts and lists (JSON), dates as ISO text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


READERS = {"menu": _menu, "input": _input, "text": _text, "end": _end, "router": _router, "action": _action}


def targets(screen: dict[str, Any]) -> list[tuple[str, str | None, int]]:
    """Where a compiled screen can lead: (what, screen id, line) for each way out."""
    kind, line = screen["type"], screen.get("line", 0)
    if kind == "menu":
        return [(f"option {i + 1}", o["next"], o.get("next_line") or o.get("line", line))
                for i, o in enumerate(screen["options"])]
    if kind in ("input", "text"):
        return [("next", screen["next"], screen.get("next_line") or line)] if screen.get("next") else []
    default = [("default", screen["default"], screen.get("default_line") or line)] if screen.get("default") else []
    if kind == "router":
        return [*((f"route {i + 1}", rt["next"], rt.get("next_line") or rt.get("line", line))
                  for i, rt in enumerate(screen["routes"])), *default]
    if kind == "action":
        return [*((f"on.{k}", v, screen.get("on_line", line)) for k, v in screen["on"].items()), *default]
    return []


def ends(screen: dict[str, Any]) -> bool:
    """Whether showing this screen ends the session."""
    return screen["type"] == "end" or (screen["type"] == "text" and not screen.get("next"))
