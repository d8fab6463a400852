"""One hop through a compiled menu: from where the subscriber is and what they answered, to the
screen they see next. No database of its own: dialog.py loads and stores the session around it,
and the actions it runs get the hop's connection.

The rules every menu follows, whatever its document says:
- "0" goes back: a page back first, then to the screen before (the first screen stays put);
  "00" goes home (the first screen, history forgotten); "98" shows the next page while there is one.
- An answer a menu screen has no option for shows the screen again under a one-line hint; an input
  that fails its validator says why and asks again. Neither ends the session.
- Routers and actions are not shown: the hop passes through them (at most MAX_CHAIN in a row) to
  the next screen that is.
- A PIN is never kept: it is available to the screens and actions the same hop reaches (an action
  right after the input), then dropped, and the hop's event shows it masked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from engage.engine.ussd import document, texts
from engage.engine.ussd.actions import ACTIONS, FAILED, ActionCall, Outcome, clean_results
from engage.engine.ussd.actions import run as run_action
from engage.engine.ussd.pages import paginate
from engage.engine.ussd.validators import VALIDATORS, Invalid, Reading

log = logging.getLogger(__name__)
MAX_CHAIN = 20  # routers and actions one hop passes through: a menu looping among them stops here
BACK, HOME, MORE = "0", "00", "98"


@dataclass
class State:
    """Where a session is: what dialog.py keeps in the ussd_sessions row between hops."""

    screen: str | None = None
    page: int = 0
    history: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    language: str = "en"
    visited: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Caller:
    """Who dials, for templates and actions."""

    conn: Any  # the hop's Connection
    msisdn: str
    is_number: bool
    subscriber: dict[str, Any] | None
    region: str
    session_id: int | None


@dataclass
class Turn:
    """What the hop shows, and what its event says."""

    text: str
    ends: bool
    screen: str | None
    secret: bool = False  # the answer was a PIN: masked in the event
    note: str | None = None  # invalid_option | invalid_input | failed: why the screen is shown again or the end


class Walk:
    """One hop's walk: built per hop, given the session's state, which it changes in place."""

    def __init__(self, menu: dict[str, Any], name: str, state: State, caller: Caller, max_chars: int) -> None:
        self.menu, self.name, self.state, self.caller, self.max_chars = menu, name, state, caller, max_chars
        self.screens: dict[str, Any] = menu["screens"]
        self.default_language: str = menu.get("language") or "en"
        self.secrets: set[str] = set()  # this hop's PIN values, dropped before the state is stored

    # --- entry points -----------------------------------------------------------------------------

    def open(self, shortcut: list[str]) -> Turn:
        """The session's first screen, then each digit of a dialled shortcut (*123*1*2#) as an answer,
        stopping where one is refused or the session ends."""
        turn = self._go(self.menu["start"])
        for answer in shortcut:
            if turn.ends or turn.note:
                break
            turn = self.answer(answer)
        return turn

    def answer(self, text: str) -> Turn:
        state = self.state
        text = text.strip()
        screen = self.screens.get(state.screen or "")
        if screen is None:  # the menu was replaced under the session and lost this screen: start over
            state.history.clear()
            return self._go(self.menu["start"])
        if text == HOME:
            state.history.clear()
            return self._go(self.menu["start"])
        if text == BACK:
            if state.page > 0:
                state.page -= 1
            elif state.history:
                state.screen, state.page = state.history.pop(), 0
            return self._show(state.screen)
        if text == MORE and state.page + 1 < len(self._pages(screen)):
            state.page += 1
            return self._show(state.screen)
        return ANSWERS[screen["type"]](self, screen, text)

    # --- answering each kind of screen ---------------------------------------------------------------

    def _menu_answer(self, screen: dict[str, Any], text: str) -> Turn:
        options = screen["options"]
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= len(options)):
            return self._show(self.state.screen, hint=texts.message("invalid_option", self.state.language, self.menu),
                              note="invalid_option")
        return self._forward(options[int(text) - 1]["next"])

    def _input_answer(self, screen: dict[str, Any], text: str) -> Turn:
        rule = dict(screen["validate"])
        spec = VALIDATORS[rule.pop("kind")]
        try:
            value = spec.parse(text, rule, Reading(self.state.language, self.caller.region))
        except Invalid as refused:
            hint = refused.reason
            if screen.get("error"):
                hint = self._render(screen["error"])
            turn = self._show(self.state.screen, hint=hint, note="invalid_input")
            turn.secret = spec.secret
            return turn
        self.state.values[screen["save"]] = value
        if spec.secret:
            self.secrets.add(screen["save"])
        turn = self._forward(screen["next"])
        turn.secret = spec.secret
        return turn

    def _text_answer(self, screen: dict[str, Any], text: str) -> Turn:
        if screen.get("next"):
            return self._forward(screen["next"])
        return self._show(self.state.screen)  # an ended screen: dialog.py never lets an answer reach it

    # --- moving -------------------------------------------------------------------------------------

    def _forward(self, target: str) -> Turn:
        if self.state.screen:
            self.state.history.append(self.state.screen)
        return self._go(target)

    def _go(self, target: str | None) -> Turn:
        """To `target`, through any routers and actions, to the first screen that is shown."""
        for _ in range(MAX_CHAIN):
            screen = self.screens.get(target or "")
            if screen is None:
                return self._failed(f"no screen {target!r}")
            self._visit(target)  # type: ignore[arg-type]
            kind = screen["type"]
            try:
                if kind == "router":
                    target = self._route(screen)
                    continue
                if kind == "action":
                    came, target = target, self._act(target, screen)  # type: ignore[arg-type]
                    if target is None:
                        return self._failed(f"action screen {came!r}: no screen for its outcome")
                    continue
            except texts.TextError as exc:
                return self._failed(f"screen {target!r}: {exc}")
            self.state.screen, self.state.page = target, 0
            return self._show(target)
        return self._failed(f"over {MAX_CHAIN} routers and actions in a row")

    def _visit(self, screen_id: str) -> None:
        if screen_id not in self.state.visited:
            self.state.visited.append(screen_id)

    def _route(self, screen: dict[str, Any]) -> str:
        context = self.context()
        for route in screen["routes"]:
            if self._holds(route["if"], context):
                return route["next"]
        return screen["default"]

    def _holds(self, condition: dict[str, Any], context: dict[str, Any]) -> bool:
        if "expr" in condition:
            return texts.holds(condition["expr"], self.state.language, context)
        return compare(context.get(condition["field"]), condition["op"], condition.get("value"))

    def _act(self, screen_id: str, screen: dict[str, Any]) -> str | None:
        action = ACTIONS.get(screen["action"])
        context = self.context()
        if action is None:  # registered when the menu was saved, gone since (a plugin not loaded)
            log.error("USSD menu %s screen %s: no action %r", self.name, screen_id, screen["action"])
            outcome = Outcome(FAILED)
        else:
            params = _rendered(screen["params"], self.state.language, context)
            caller = self.caller
            outcome = run_action(action, ActionCall(
                conn=caller.conn, msisdn=caller.msisdn, is_number=caller.is_number, subscriber=caller.subscriber,
                values=dict(self.state.values), params=params, language=self.state.language, menu=self.name,
                session_id=caller.session_id, secrets=frozenset(self.secrets)))
        results = clean_results(outcome.results)
        if screen.get("save"):
            self.state.values[screen["save"]] = results
        else:
            self.state.values.update(results)
        if outcome.language:
            self.state.language = outcome.language
        return screen["on"].get(outcome.name) or screen.get("default")

    # --- showing ------------------------------------------------------------------------------------

    def context(self) -> dict[str, Any]:
        """What templates see: the subscriber's fields, the number, then the session's values over them."""
        subscriber = self.caller.subscriber or {}
        return {**subscriber, "msisdn": self.caller.msisdn, "language": self.state.language, **self.state.values}

    def _render(self, variants: dict[str, str] | None) -> str:
        return texts.render(texts.pick(variants, self.state.language, self.default_language), self.state.language,
                            self.context())

    def _body(self, screen: dict[str, Any]) -> str:
        lines = [self._render(screen.get("text"))]
        for i, option in enumerate(screen.get("options") or (), 1):
            lines.append(f"{i}. {self._render(option['label'])}")
        return "\n".join(line for line in lines if line)

    def _pages(self, screen: dict[str, Any], hint: str | None = None) -> list[str]:
        body = self._body(screen)
        if hint:
            body = f"{hint}\n{body}"
        language = self.state.language
        more = f"{MORE} {texts.message('more', language, self.menu)}"
        back = f"{BACK} {texts.message('back', language, self.menu)}"
        return paginate(body, self.max_chars, more, back)

    def _show(self, screen_id: str | None, hint: str | None = None, note: str | None = None) -> Turn:
        screen = self.screens[screen_id or ""]
        try:
            pages = self._pages(screen, hint)
        except texts.TextError as exc:
            return self._failed(f"screen {screen_id!r}: {exc}")
        self.state.page = min(self.state.page, len(pages) - 1)
        last = self.state.page == len(pages) - 1
        return Turn(pages[self.state.page], document.ends(screen) and last, screen_id, note=note)

    def _failed(self, why: str) -> Turn:
        """The menu cannot go on (a template that fails on this subscriber's values, a screen lost):
        the subscriber gets an apology, the log the reason."""
        log.error("USSD menu %s, session %s: %s", self.name, self.caller.session_id, why)
        return Turn(texts.message("failed", self.state.language, self.menu), True, self.state.screen, note=FAILED)

    def kept_values(self) -> dict[str, Any]:
        """The values to store with the session: all but this hop's PINs."""
        return {k: v for k, v in self.state.values.items() if k not in self.secrets}


ANSWERS = {"menu": Walk._menu_answer, "input": Walk._input_answer, "text": Walk._text_answer,
           "end": Walk._text_answer}


def _rendered(value: Any, language: str, context: dict[str, Any]) -> Any:
    """An action's params with their templates filled in."""
    if isinstance(value, str):
        return texts.render(value, language, context) if "{" in value else value
    if isinstance(value, dict):
        return {k: _rendered(v, language, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_rendered(v, language, context) for v in value]
    return value


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def compare(value: Any, op: str, expected: Any) -> bool:
    """A router's {field, op, value}: numbers as numbers when both sides are, else as texts
    (ignoring case); a missing value is neither equal nor in order with anything."""
    if op == "set":
        return value is not None and value != ""
    if op == "unset":
        return value is None or value == ""
    if op in ("in", "not_in"):
        found = value is not None and any(compare(value, "eq", item) for item in expected or ())
        return found if op == "in" else not found
    if value is None:
        return op == "ne"
    a, b = _decimal(value), _decimal(expected)
    if a is None or b is None:
        a, b = str(value).strip().casefold(), str(expected).strip().casefold()  # type: ignore[assignment]
    return {"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]  # type: ignore[operator]
