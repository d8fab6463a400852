"""The one door into USSD: a gateway adapter turns its request into a Hop, calls step(), and turns
the Screen into its answer (CON/END, Hubtel's JSON, an SMPP USSR request or PSSR response).

    screen = await loop.run_in_executor(None, step, engine, Hop(gateway_id, session_id, msisdn, code, text))

step() runs in one transaction: it reads the session (locked) and its subscriber, walks the menu
(flow.py), writes the session and one `ussd_step` event, a handful of statements in all; the
menu's compiled form comes from the process's cache (menus.py).

What a gateway may send, and what it gets:
- the first hop of a session (answer None): the menu of the dialled code, from its first screen,
  then down the shortcut digits dialled past the code (*123*1*2# = 1, then 2); a code no menu
  serves gets a polite END, not an error;
- a repeat of the last hop (the same replay_key): the same Screen again, nothing changed;
- an answer to a session idle over 180 s or already ended: an END saying the session expired, so
  that a stale "1" never acts on a menu the subscriber no longer sees; a new first hop with the
  same key starts over;
- an answer to a session that never existed, or a hop whose fields are garbage: UssdError,
  naming the field (a gateway answers it 400).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from engage import config
from engage.engine.phones import InvalidNumber, to_e164
from engage.engine.store.schema import Event, Subscriber
from engage.engine.ussd import menus, sessions, texts
from engage.engine.ussd.flow import Caller, State, Turn, Walk
from engage.engine.ussd.pages import USSD_MAX

log = logging.getLogger(__name__)
MAX_ANSWER = 182
events = Event.__table__
_PROFILE = select(*(c for c in Subscriber.__table__.c if c.name not in ("id", "created_at", "updated_at"))).where(
    Subscriber.msisdn == bindparam("msisdn"))
_EVENT = insert(events)


@dataclass(frozen=True)
class Hop:
    gateway_id: int
    session_key: str
    msisdn: str  # as the gateway gave it; read as E.164 with the default region where it is a number
    code: str  # the service code dialled ("*123#"); may carry extra digits "*123*1#" = a shortcut path
    answer: str | None  # None when the session opens; the subscriber's latest input otherwise
    replay_key: str | None = None  # the session's last request's key again => the last Screen again, nothing changed
    max_chars: int = USSD_MAX  # 80 for UCS-2 gateways
    # a gateway that sends the whole path (Africa's Talking): the latest answer given the replay key of
    # the session's previous hop, read under the session's lock; `answer` is its guess without one
    answer_after: Callable[[str | None], str] | None = None


@dataclass(frozen=True)
class Screen:
    text: str
    ends: bool


class UssdError(ValueError):
    """A hop that cannot be served: garbage, or an answer to a session that does not exist."""


def step(engine: Engine, hop: Hop) -> Screen:
    """The screen to show for this hop; see the module's docstring for what each kind of hop gets."""
    started = time.perf_counter()
    _check(hop)
    _sweep(engine)
    try:
        with engine.begin() as conn:
            return _step(conn, hop, started)
    except IntegrityError:  # two first hops of one session at once: the other created it; this one reads it
        with engine.begin() as conn:
            return _step(conn, hop, started)


_swept = [0.0]  # when this process last ended idle sessions (time.monotonic)
SWEEP_EVERY = 60.0


def _sweep(engine: Engine) -> None:
    """Idle sessions ended (sessions.expire_idle), at most once a minute per process, in a transaction
    of its own: a session's row says it is over, and what its subscriber typed is dropped, without a
    worker to do it. A hop never waits on it failing."""
    if time.monotonic() - _swept[0] < SWEEP_EVERY:
        return
    _swept[0] = time.monotonic()
    try:
        with engine.begin() as conn:
            sessions.expire_idle(conn)
    except Exception:
        log.exception("USSD: ending idle sessions failed; the next sweep tries again")


def _check(hop: Hop) -> None:
    for name, value, limit in (("session_key", hop.session_key, 128), ("msisdn", hop.msisdn, 32),
                               ("code", hop.code, 32), ("answer", hop.answer, MAX_ANSWER),
                               ("replay_key", hop.replay_key, 128)):
        if value is None and name in ("answer", "replay_key"):
            continue
        if not isinstance(value, str):
            raise UssdError(f"{name}: a text, not {type(value).__name__}")
        if name != "answer" and not value.strip():
            raise UssdError(f"{name}: empty")
        if len(value) > limit:
            raise UssdError(f"{name}: over {limit} characters ({len(value)})")
        if "\x00" in value or not value.isprintable() and name != "answer":
            raise UssdError(f"{name}: control characters in {value[:40]!r}")
    if not isinstance(hop.gateway_id, int) or isinstance(hop.gateway_id, bool):
        raise UssdError(f"gateway_id: a whole number, not {hop.gateway_id!r}")
    if not isinstance(hop.max_chars, int) or not 40 <= hop.max_chars <= 1000:
        raise UssdError(f"max_chars: {hop.max_chars!r}, from 40 to 1000")


def _step(conn: Connection, hop: Hop, started: float) -> Screen:
    region = config.load().default_region
    try:
        msisdn, is_number = to_e164(hop.msisdn, region), True
    except InvalidNumber:
        msisdn, is_number = hop.msisdn.strip(), False
    row = sessions.load(conn, hop.gateway_id, hop.session_key)
    if row is not None and hop.replay_key is not None and row.last_request == hop.replay_key:
        return Screen(row.last_answer or "", bool(row.last_ends))
    if row is not None and hop.answer_after is not None:
        hop = replace(hop, answer=hop.answer_after(row.last_request))
    at = sessions.now(conn)
    over = row is not None and (row.ended_at is not None or sessions.is_idle(row.updated_at, at))
    if hop.answer is not None:
        if row is None:
            raise UssdError(f"answer: session {hop.session_key!r} of gateway {hop.gateway_id} does not exist "
                            "(the first hop of a session carries no answer)")
        if over:
            return _expired(conn, hop, row, at, started)
        return _walk(conn, hop, row.id, row, msisdn, is_number, region, at, started)
    found = menus.for_code(conn, hop.code)
    if found is None:
        text = texts.message("unavailable", None)
        _event(conn, hop, started, menu=None, screen=None, session=row.id if row else None, ends=True,
               note="unknown_code")
        return Screen(text, True)
    if row is None:
        session_id = sessions.create(conn, hop.gateway_id, hop.session_key, msisdn, hop.code, found.id, at)
    else:  # a first hop again with the same key: the session starts over
        session_id = row.id
        sessions.restart(conn, session_id, msisdn, hop.code, found.id, at)
    return _walk(conn, hop, session_id, None, msisdn, is_number, region, at, started, found)


def _subscriber(conn: Connection, msisdn: str, is_number: bool) -> dict[str, Any] | None:
    if not is_number:
        return None
    row = conn.execute(_PROFILE, {"msisdn": msisdn}).mappings().first()
    return {k: v for k, v in row.items() if v is not None} if row else None


def _walk(conn: Connection, hop: Hop, session_id: int, row: Any, msisdn: str, is_number: bool, region: str,
          at: Any, started: float, found: menus.Found | None = None) -> Screen:
    subscriber = _subscriber(conn, msisdn, is_number)
    if found is not None:
        menu, name = found.compiled, found.name
        state = State(language=_language(subscriber, menu))
    else:
        if row.menu_id is None or not row.menu_active:  # the menu was switched off mid-session
            return _close(conn, hop, session_id, None, None, row.language, at, started,
                          Turn(texts.message("unavailable", row.language), True, row.screen, note="unavailable"))
        menu, name = menus.compiled(conn, row.menu_id, row.menu_updated_at), row.menu_name
        state = State(row.screen, row.page, list(row.history or []), dict(row._mapping["values"] or {}),
                      row.language or _language(subscriber, menu), list(row.visited or []))
    walk = Walk(menu, name, state, Caller(conn, msisdn, is_number, subscriber, region, session_id), hop.max_chars)
    try:
        turn = walk.open(found.shortcut) if found is not None else walk.answer(hop.answer or "")
    except Exception:  # a fault of the engine's own must not reach the gateway's worker: the session ends politely
        log.exception("USSD menu %s, session %s: the hop failed", name, session_id)
        turn = Turn(texts.message("failed", state.language, menu), True, state.screen, note="failed")
    sessions.store(conn, session_id, screen=state.screen, page=state.page, history=state.history,
                   values={} if turn.ends else walk.kept_values(), visited=state.visited, language=state.language,
                   last_request=hop.replay_key, last_answer=turn.text, last_ends=turn.ends, updated_at=at,
                   ended_at=at if turn.ends else None,
                   end_reason=("error" if turn.note == "failed" else "completed") if turn.ends else None)
    shown = hop.answer if found is None else ("*".join(found.shortcut) or None)
    _event(conn, hop, started, menu=name, screen=turn.screen, session=session_id, ends=turn.ends,
           answer=("*" * len(shown or "")) if turn.secret else shown, note=turn.note)
    return Screen(turn.text, turn.ends)


def _language(subscriber: dict[str, Any] | None, menu: dict[str, Any]) -> str:
    """The subscriber's language when the menu has it (ru-RU finds ru), else the menu's default."""
    wanted = str((subscriber or {}).get("language") or "").strip().lower().replace("_", "-")
    languages = menu.get("languages") or []
    for candidate in (wanted, wanted.split("-")[0]):
        if candidate and candidate in languages:
            return candidate
    return menu.get("language") or "en"


def _expired(conn: Connection, hop: Hop, row: Any, at: Any, started: float) -> Screen:
    """An answer to a session that is over: say so, and act on nothing."""
    code = menus.dialled(row.code)[-1] if menus.dialled(row.code) else row.code
    text = texts.message("expired", row.language).replace("{code}", code)
    extra: dict[str, Any] = {} if row.ended_at is not None else {"ended_at": at, "end_reason": "expired", "values": {}}
    sessions.store(conn, row.id, last_request=hop.replay_key, last_answer=text, last_ends=True, **extra)
    _event(conn, hop, started, menu=row.menu_name, screen=None, session=row.id, ends=True, note="expired")
    return Screen(text, True)


def _close(conn: Connection, hop: Hop, session_id: int, menu: str | None, screen: str | None, language: str | None,
           at: Any, started: float, turn: Turn) -> Screen:
    sessions.store(conn, session_id, last_request=hop.replay_key, last_answer=turn.text, last_ends=True,
                   updated_at=at, ended_at=at, end_reason=turn.note or "completed", values={})
    _event(conn, hop, started, menu=menu, screen=screen, session=session_id, ends=True, note=turn.note)
    return Screen(turn.text, True)


def _event(conn: Connection, hop: Hop, started: float, *, menu: str | None, screen: str | None,
           session: int | None, ends: bool, answer: str | None = None, note: str | None = None) -> None:
    """The hop's `ussd_step` event: one INSERT (events.record would COPY, a millisecond for one row)."""
    data: dict[str, Any] = {"menu": menu, "screen": screen, "input": answer, "session": session, "ends": ends,
                            "gateway": hop.gateway_id,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 2)}
    if note:
        data["note"] = note
    conn.execute(_EVENT, {"kind": "ussd_step", "data": data})
