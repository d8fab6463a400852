"""Saving a menu checks it whole, so that no subscriber meets a broken one: every `next` names a
screen, every screen can be reached from the first, every path can reach an END (a loop with no
way out is a path without one), every option fits one page even after pagination, every text and
condition compiles and renders for a sample subscriber, every validator and action exists with
the parameters it takes, and every outcome of an action goes somewhere.

All errors are reported at once, each naming its screen and its line in the source document."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from jinja2 import meta

from engage.engine.sms_encoding import is_gsm7
from engage.engine.templates.render import environment, sample_context
from engage.engine.ussd import document, texts
from engage.engine.ussd.actions import ACTIONS, FAILED, check_params
from engage.engine.ussd.document import MenuError
from engage.engine.ussd.pages import UCS2_MAX, USSD_MAX, fits
from engage.engine.ussd.source import SourceError, load
from engage.engine.ussd.validators import VALIDATORS


@dataclass
class Checked:
    """A document's compiled menu (None when it cannot be read at all) and everything wrong with it."""

    compiled: dict[str, Any] | None
    errors: list[MenuError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.compiled is not None and not self.errors


def validate(source: str) -> Checked:
    """The menu document (YAML or JSON) checked: its compiled form and every error, in line order."""
    try:
        doc = load(source)
    except SourceError as exc:
        return Checked(None, [MenuError(exc.line, None, exc.message)])
    compiled, errors = document.compile_menu(doc)
    screens = compiled["screens"]
    if screens and compiled.get("start") in screens:
        errors += _graph(compiled)
    for sid, screen in screens.items():
        errors += _screen(compiled, sid, screen)
    at = doc.line_of("screens")  # what is wrong with the menu as a whole is shown where its screens are
    errors = [e if e.line else MenuError(at, e.screen, e.message) for e in errors]
    errors.sort(key=lambda e: (e.line or 0, e.screen or ""))
    return Checked(compiled, errors)


# --- the screens as a graph ----------------------------------------------------------------------

def _graph(menu: dict[str, Any]) -> list[MenuError]:
    screens, errors = menu["screens"], []
    edges: dict[str, list[str]] = {}
    broken: set[str] = set()  # screens with an unknown next: reported once, not again as dead ends
    for sid, screen in screens.items():
        edges[sid] = []
        for what, target, line in document.targets(screen):
            if target is None:
                continue
            if target not in screens:
                broken.add(sid)
                errors.append(MenuError(line, sid, f"{what}: unknown next screen {target!r}"
                                                   f"{_did_you_mean(target, screens)}"))
            else:
                edges[sid].append(target)
    reached = _reach(menu["start"], edges)
    for sid, screen in screens.items():
        if sid not in reached:
            errors.append(MenuError(screen["line"], sid, "unreachable: no option, route or outcome leads here "
                                                         f"from the first screen {menu['start']!r}"))
    ending = {sid for sid, screen in screens.items() if document.ends(screen)}
    if not ending:
        errors.append(MenuError(None, None, "no screen ends the session: add an end screen (type: end)"))
        return errors
    backwards: dict[str, list[str]] = {sid: [] for sid in screens}
    for sid, targets in edges.items():
        for target in targets:
            backwards[target].append(sid)
    can_end = _reach_all(ending | broken, backwards)
    for sid in screens:
        if sid in reached and sid not in can_end:
            errors.append(MenuError(screens[sid]["line"], sid, "no path from here reaches an end screen "
                                                               "(a loop with no way out?)"))
    return errors


def _reach(start: str, edges: dict[str, list[str]]) -> set[str]:
    return _reach_all({start}, edges)


def _reach_all(starts: set[str], edges: dict[str, list[str]]) -> set[str]:
    seen, queue = set(starts), deque(starts)
    while queue:
        for target in edges.get(queue.popleft(), ()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _did_you_mean(name: str, choices: Any) -> str:
    from difflib import get_close_matches

    close = get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- each screen ---------------------------------------------------------------------------------

def _screen(menu: dict[str, Any], sid: str, screen: dict[str, Any]) -> list[MenuError]:
    errors: list[MenuError] = []
    line = screen["line"]
    sample = _sample(menu)
    for variants, what, at in _texts(screen):
        for language, source in (variants or {}).items():
            problem = _template_problem(source, language, sample) or _shows_secret(source, language, menu)
            if problem:
                errors.append(MenuError(at or line, sid, f"{what} ({language}): {problem}"))
            elif what.startswith("option ") and not _option_fits(what, source, language, sample):
                rendered = _option_line(what, source, language, sample)
                page = USSD_MAX if is_gsm7(rendered) else UCS2_MAX
                errors.append(MenuError(at or line, sid, f"{what} ({language}) is {len(rendered)} characters: it "
                                                         f"cannot fit one page of {page} even after pagination"))
    kind = screen["type"]
    if kind == "input":
        errors += _input(sid, screen)
    elif kind == "router":
        for i, route in enumerate(screen["routes"]):
            condition = route.get("if") or {}
            if "expr" in condition:
                problem = _template_problem(texts.condition_source(condition["expr"]), menu["language"], sample)
                if problem:
                    errors.append(MenuError(route.get("line", line), sid, f"route {i + 1} if: {problem}"))
    elif kind == "action":
        errors += _action(menu, sid, screen, sample)
    return errors


def _texts(screen: dict[str, Any]) -> list[tuple[dict[str, str] | None, str, int | None]]:
    out = [(screen.get("text"), "text", screen.get("text_line")), (screen.get("error"), "error", None)]
    out += [(o["label"], f"option {i + 1}", o.get("line")) for i, o in enumerate(screen.get("options") or ())]
    return out


def _sample(menu: dict[str, Any]) -> dict[str, Any]:
    """A plausible subscriber with every input of the menu answered, to render its texts at save time."""
    values: dict[str, Any] = {}
    for screen in menu["screens"].values():
        if screen["type"] == "input" and screen.get("save"):
            spec = VALIDATORS.get(screen["validate"].get("kind"))
            values[screen["save"]] = spec.sample if spec else "1"
    return {**sample_context(), **values}


def _secrets(menu: dict[str, Any]) -> set[str]:
    """The names inputs keep PINs under."""
    return {screen["save"] for screen in menu["screens"].values() if screen["type"] == "input" and screen.get("save")
            and getattr(VALIDATORS.get(screen["validate"].get("kind")), "secret", False)}


def _shows_secret(source: str, language: str, menu: dict[str, Any]) -> str | None:
    """A text that would write a PIN on the screen (a phone's screen is seen by whoever stands near)."""
    secrets = _secrets(menu)
    if not secrets or "{" not in source:
        return None
    shown = sorted(secrets & meta.find_undeclared_variables(environment(language).parse(source)))
    return f"shows the PIN {{{{ {shown[0]} }}}}: a PIN is never shown" if shown else None


def _template_problem(source: str, language: str, sample: dict[str, Any]) -> str | None:
    try:
        texts.render(source, language, sample)
    except texts.TextError as exc:
        return f"template line {exc.line}: {exc.message}" if exc.line else exc.message
    return None


def _option_line(what: str, source: str, language: str, sample: dict[str, Any]) -> str:
    return f"{what.split()[1]}. {texts.render(source, language, sample)}"


def _option_fits(what: str, source: str, language: str, sample: dict[str, Any]) -> bool:
    """An option is one line on a page beside "98 More" and "0 Back": 182 characters in GSM-7, 80 for
    a text that needs UCS-2 (what a gateway sending UCS-2 allows)."""
    line = _option_line(what, source, language, sample)
    more, back = texts.message("more", language), texts.message("back", language)
    return fits(line, USSD_MAX, f"98 {more}", f"0 {back}")  # fits() takes 80 for a line that needs UCS-2


def _input(sid: str, screen: dict[str, Any]) -> list[MenuError]:
    rule = dict(screen["validate"])
    kind = rule.pop("kind")
    at = screen.get("validate_line") or screen["line"]
    spec = VALIDATORS.get(kind)
    if spec is None:
        return [MenuError(at, sid, f"validate: unknown validator {kind!r} (one of {', '.join(sorted(VALIDATORS))})")]
    problem = spec.check(rule)
    return [MenuError(at, sid, f"validate ({kind}): {problem}")] if problem else []


def _action(menu: dict[str, Any], sid: str, screen: dict[str, Any], sample: dict[str, Any]) -> list[MenuError]:
    name, line = screen.get("action"), screen["line"]
    if name is None:
        return []
    action = ACTIONS.get(name)
    if action is None:
        return [MenuError(screen.get("action_line") or line, sid,
                          f"action: unknown action {name!r} (one of {', '.join(sorted(ACTIONS))})")]
    errors = []
    problem = check_params(action, screen["params"])
    if problem:
        errors.append(MenuError(screen.get("params_line") or line, sid, f"params: {problem}"))
    for key, value in _strings(screen["params"]):
        problem = _template_problem(value, menu["language"], sample)
        if problem:
            errors.append(MenuError(screen.get("params_line") or line, sid, f"params.{key}: {problem}"))
    on = screen["on"]
    if not action.open_outcomes:
        for outcome in on:
            if outcome not in (*action.outcomes, FAILED):
                errors.append(MenuError(screen.get("on_line") or line, sid,
                                        f"on.{outcome}: {name} has no such outcome "
                                        f"(it has {', '.join((*action.outcomes, FAILED))})"))
    unrouted = [o for o in action.outcomes if o not in on]
    if unrouted and not screen.get("default"):
        errors.append(MenuError(screen.get("on_line") or line, sid,
                                f"outcome {unrouted[0]!r} of {name} goes nowhere: add on.{unrouted[0]} or a default"))
    return errors


def _strings(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)] if "{" in value else []
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _strings(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _strings(v, f"{path}[{i}]")]
    return []
