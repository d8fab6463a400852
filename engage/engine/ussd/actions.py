"""What an action screen does: a registry of small units, one function per action, so that loyalty
adds balance, rewards and redeem beside these without touching the engine:

    @ussd_action("balance", outcomes=("ok", "not_member"))
    def balance(call: ActionCall) -> Outcome:
        ...
        return Outcome("ok", {"balance": points})     # {{ balance }} on the next screens

An action runs inside the hop's transaction (what it writes is kept only if the hop is), gets its
parameters already rendered (`value: "{{ birthday }}"`), and returns an outcome name, which the
screen routes on (`on: {ok: thanks, invalid: try_again}`, else `default`), and results, which
join the session's values. A failure it does not expect is the outcome "failed" (and logged): a
broken action never ends a subscriber's session by accident.

Shipped here: opt_in, opt_out, set_language, set_field, callback; call_http is in http_action.py;
loyalty_balance and loyalty_join in engine/loyalty/ussd_actions.py (ACTION_MODULES).
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select, update

from engage.engine import consent
from engage.engine.events import record_one
from engage.engine.keywords.actions import set_aside
from engage.engine.store.bulk import conflict_insert
from engage.engine.store.schema import Subscriber, SubscriberTag
from engage.engine.subscriber_fields import FIELDS, FieldValueError
from engage.engine.ussd.document import LANGUAGE

log = logging.getLogger(__name__)
FAILED = "failed"  # the outcome of an action that raised: every action may have it
CALLBACK_TAG = "callback requested"


@dataclass
class ActionCall:
    """What an action is given: the hop's connection, who dials, and the screen's parameters."""

    conn: Connection
    msisdn: str  # E.164 when the gateway's number reads as one (is_number), else as the gateway gave it
    is_number: bool
    subscriber: dict[str, Any] | None  # the subscriber's profile fields, None for a number not in subscribers
    values: dict[str, Any]  # the session's values so far (inputs, earlier results); read only
    params: dict[str, Any]  # the screen's params, rendered
    language: str
    menu: str
    session_id: int | None
    secrets: frozenset[str] = frozenset()  # values that are PINs: never logged, sent only where named


@dataclass
class Outcome:
    name: str = "ok"
    results: dict[str, Any] = field(default_factory=dict)  # join the session's values
    language: str | None = None  # the session goes on in this language


Run = Callable[[ActionCall], Outcome]
Check = Callable[[dict[str, Any]], str | None]  # the raw params at save time -> what is wrong, or None


@dataclass(frozen=True)
class UssdAction:
    name: str
    run: Run
    outcomes: tuple[str, ...]  # the outcomes it returns besides "failed"
    params: tuple[str, ...]  # the parameters it takes
    required: tuple[str, ...]
    check: Check | None
    open_outcomes: bool  # it may return outcomes of the menu's choosing (an HTTP service's own)


ACTIONS: dict[str, UssdAction] = {}


def ussd_action(name: str, *, outcomes: tuple[str, ...] = ("ok",), params: tuple[str, ...] = (),
                required: tuple[str, ...] = (), check: Check | None = None,
                open_outcomes: bool = False) -> Callable[[Run], Run]:
    def register(fn: Run) -> Run:
        ACTIONS[name] = UssdAction(name, fn, outcomes, params, required, check, open_outcomes)
        return fn
    return register


def check_params(action: UssdAction, params: dict[str, Any]) -> str | None:
    """What is wrong with a screen's params for this action (at save time), or None."""
    unknown = sorted(set(params) - set(action.params))
    if unknown:
        return f"unknown parameter {unknown[0]!r} for {action.name} (it takes {', '.join(action.params) or 'none'})"
    missing = [p for p in action.required if p not in params]
    if missing:
        return f"{action.name} needs the parameter {missing[0]!r}"
    return action.check(params) if action.check else None


def run(action: UssdAction, call: ActionCall) -> Outcome:
    """The action's outcome; one that raised is FAILED (its writes undone by a savepoint), logged."""
    try:
        with call.conn.begin_nested():
            return action.run(call)
    except Exception:
        log.exception("USSD action %s failed (menu %s, session %s)", action.name, call.menu, call.session_id)
        return Outcome(FAILED)


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "{" in value


def _check_channel(params: dict[str, Any]) -> str | None:
    channel = params.get("channel", "sms")
    return None if channel in consent.CHANNELS else f"channel: one of {', '.join(consent.CHANNELS)}"


def _not_a_number(call: ActionCall) -> Outcome | None:
    return None if call.is_number else Outcome("not_a_number")


@ussd_action("opt_out", outcomes=("ok", "not_a_number"), params=("channel",), check=_check_channel)
def opt_out(call: ActionCall) -> Outcome:
    """The number opted out of a channel (SMS unless `channel: ussd`), as a STOP by SMS: its messages
    not yet with a sender are set aside."""
    refused = _not_a_number(call)
    if refused:
        return refused
    channel = call.params.get("channel", "sms")
    changed = consent.opt_out(call.conn, [call.msisdn], channel, source="ussd", actor="subscriber (USSD)")
    if channel == "sms":
        set_aside(call.conn, [call.msisdn])
    return Outcome("ok", {"opted_out": True, "changed": bool(changed)})


@ussd_action("opt_in", outcomes=("ok", "not_a_number"), params=("channel",), check=_check_channel)
def opt_in(call: ActionCall) -> Outcome:
    refused = _not_a_number(call)
    if refused:
        return refused
    channel = call.params.get("channel", "sms")
    changed = consent.opt_in(call.conn, [call.msisdn], channel, source="ussd", actor="subscriber (USSD)")
    # what loyalty's opt-in awards read (loyalty/awards.py), once per member whatever the event count
    record_one(call.conn, "ussd_opt_in", msisdn=call.msisdn, channel=channel, menu=call.menu,
               session=call.session_id)
    return Outcome("ok", {"opted_out": False, "changed": bool(changed)})


def _check_language(params: dict[str, Any]) -> str | None:
    language = params.get("language")
    if _templated(language) or (isinstance(language, str) and LANGUAGE.match(language)):
        return None
    return "language: a language code (en, ru, uz...)"


@ussd_action("set_language", outcomes=("ok", "invalid"), params=("language",), required=("language",),
             check=_check_language)
def set_language(call: ActionCall) -> Outcome:
    """The subscriber's language (for messages too, not only this menu); the session goes on in it."""
    language = str(call.params["language"]).strip()
    if not LANGUAGE.match(language):
        return Outcome("invalid")
    if call.subscriber is not None:
        call.conn.execute(update(Subscriber).where(Subscriber.msisdn == call.msisdn)
                          .values(language=language, updated_at=func.now()))
    return Outcome("ok", {"language": language}, language=language)


SETTABLE = frozenset(FIELDS) - {"msisdn"}


def _check_field(params: dict[str, Any]) -> str | None:
    name = params.get("field")
    if name not in SETTABLE:
        return f"field: one of the subscriber fields ({', '.join(sorted(SETTABLE))})"
    if not _templated(params.get("value")) and params.get("value") is not None:
        try:
            FIELDS[name].parse(params["value"])
        except FieldValueError as exc:
            return f"value: {exc}"
    return None


@ussd_action("set_field", outcomes=("ok", "invalid", "not_subscriber"), params=("field", "value"),
             required=("field", "value"), check=_check_field)
def set_field(call: ActionCall) -> Outcome:
    """A profile field (e.g. birth_date from a date input) of the subscriber dialling. A number that is
    not a subscriber gets no profile from a menu: audiences come from operators' imports."""
    spec = FIELDS[call.params["field"]]
    try:
        value = spec.parse(call.params["value"])
    except FieldValueError as exc:
        return Outcome("invalid", {"error": str(exc)})
    if call.subscriber is None:
        return Outcome("not_subscriber")
    call.conn.execute(update(Subscriber).where(Subscriber.msisdn == call.msisdn)
                      .values({spec.name: value, "updated_at": func.now()}))
    return Outcome("ok", {spec.name: value if isinstance(value, str | int) else str(value)})


def _check_callback(params: dict[str, Any]) -> str | None:
    tag = params.get("tag", CALLBACK_TAG)
    if not (isinstance(tag, str) and 0 < len(tag.strip()) <= 64 and ";" not in tag):
        return "tag: 1 to 64 characters, no ';'"
    note = params.get("note")
    return None if note is None or (isinstance(note, str) and len(note) <= 200) else "note: at most 200 characters"


@ussd_action("callback", params=("tag", "note"), check=_check_callback)
def callback(call: ActionCall) -> Outcome:
    """The subscriber asks to be called back: tagged "callback requested" (a segment can find them,
    their profile shows it) and a `ussd_callback` event for support, subscriber or not."""
    tag = str(call.params.get("tag", CALLBACK_TAG)).strip()
    if call.subscriber is not None:
        subscriber_id = call.conn.execute(select(Subscriber.id).where(Subscriber.msisdn == call.msisdn)).scalar()
        call.conn.execute(conflict_insert(call.conn, SubscriberTag.__table__).on_conflict_do_nothing(),
                          [{"subscriber_id": subscriber_id, "tag": tag}])
    record_one(call.conn, "ussd_callback", msisdn=call.msisdn, menu=call.menu, session=call.session_id,
               note=call.params.get("note"), tag=tag if call.subscriber is not None else None)
    return Outcome("ok", {"callback_requested": True})


def clean_results(results: dict[str, Any]) -> dict[str, Any]:
    """Results as session values: names usable in templates, JSON values, texts of bounded length."""
    out: dict[str, Any] = {}
    for key, value in list(results.items())[:50]:
        if not (isinstance(key, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", key)):
            continue
        if isinstance(value, str):
            out[key] = value[:500]
        elif isinstance(value, bool | int | float) or value is None:
            out[key] = value
        else:
            out[key] = str(value)[:500]
    return out


from engage.engine.ussd import http_action  # noqa: E402,F401 - registers call_http

# actions other rooms add to this registry (named, not imported: ussd does not depend on them)
ACTION_MODULES: tuple[str, ...] = ("engage.engine.loyalty.ussd_actions", "engage.engine.loyalty.ussd_transfer")
for _module in ACTION_MODULES:
    importlib.import_module(_module)
