"""Where subscribers drop off in a menu: for each screen, how many sessions reached it and how many
ended there, split into those that finished (an end screen shown) and those that gave up (idle,
hung up, or the menu failed them). What the menu's page shows, worst screens first to the eye.

Read from ussd_sessions (one row per session, its screens visited kept in order of first visit)
through the (menu_id, started_at) index, not from the events: a funnel of a month is one row per
session, not one per hop. Staff walking a menu to try it (the phone emulator, `engage ussd try`)
are no subscribers dropping off: their sessions are counted apart, as `tests`, and left out."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from engage.engine.ussd import document
from engage.engine.ussd.emulator import EMULATOR
from engage.engine.ussd.menus import menus
from engage.engine.ussd.sessions import TERMINAL, gateways, is_idle, now, sessions

TEST_GATEWAYS = frozenset({EMULATOR, TERMINAL})  # the kinds of the built-in gateways staff try menus through


def funnel(conn: Connection, menu_id: int, *, since: datetime | None = None,
           until: datetime | None = None) -> dict[str, Any] | None:
    """{menu, sessions, open, tests, screens: [{screen, type, reached, ended, completed, abandoned}]} for
    the sessions started in [since, until), screens in the document's order; None for no such menu."""
    menu = conn.execute(select(menus.c.name, menus.c.compiled).where(menus.c.id == menu_id)).first()
    if menu is None:
        return None
    query = (select(sessions.c.screen, sessions.c.visited, sessions.c.ended_at, sessions.c.end_reason,
                    sessions.c.updated_at, gateways.c.kind)
             .select_from(sessions.outerjoin(gateways, gateways.c.id == sessions.c.gateway_id))
             .where(sessions.c.menu_id == menu_id))
    if since is not None:
        query = query.where(sessions.c.started_at >= _stored(conn, since))
    if until is not None:
        query = query.where(sessions.c.started_at < _stored(conn, until))
    screens = (menu.compiled or {}).get("screens", {})
    reached: Counter[str] = Counter()
    completed: Counter[str] = Counter()
    abandoned: Counter[str] = Counter()
    total = still_open = tests = 0
    at = now(conn)
    for row in conn.execute(query.execution_options(yield_per=5000)):
        if row.kind in TEST_GATEWAYS:
            tests += 1
            continue
        total += 1
        reached.update(set(row.visited or ()))
        if row.ended_at is None and not is_idle(row.updated_at, at):
            still_open += 1
            continue
        finished = (row.end_reason == "completed" and row.screen in screens
                    and document.ends(screens[row.screen]))
        (completed if finished else abandoned)[row.screen or ""] += 1
    names = list(screens) + sorted(set(reached) - set(screens))  # screens since removed, after the rest
    return {"menu": menu.name, "sessions": total, "open": still_open, "tests": tests,
            "screens": [{"screen": sid, "type": screens.get(sid, {}).get("type"), "reached": reached[sid],
                         "ended": completed[sid] + abandoned[sid], "completed": completed[sid],
                         "abandoned": abandoned[sid]} for sid in names]}


def _stored(conn: Connection, moment: datetime) -> datetime:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None) if conn.dialect.name == "sqlite" else moment
