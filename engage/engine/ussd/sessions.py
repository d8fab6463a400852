"""USSD sessions in the database: the row a hop reads (locked, with its menu's version) and writes,
the end of idle sessions, and the gateway row `engage ussd try` dials through.

A session idle IDLE (180 s, as networks keep them) is over: the sweep marks such sessions ended
in one statement, and a hop that finds its session idle treats it as ended whether or not the
sweep has run."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from engage.engine.store.schema_ussd import UssdGateway, UssdMenu, UssdSession

IDLE = timedelta(seconds=180)
TERMINAL = "terminal"  # the gateway of `engage ussd try`
sessions = UssdSession.__table__
menus = UssdMenu.__table__
gateways = UssdGateway.__table__


def now(conn: Connection) -> datetime:
    """This moment as the database stores it: SQLite keeps naive UTC, PostgreSQL aware."""
    moment = datetime.now(UTC)
    return moment.replace(tzinfo=None) if conn.dialect.name == "sqlite" else moment


_LOAD = (select(sessions.c.id, sessions.c.menu_id, sessions.c.code, sessions.c.screen, sessions.c.page,
                sessions.c.history, sessions.c["values"], sessions.c.visited, sessions.c.language,
                sessions.c.last_request, sessions.c.last_answer, sessions.c.last_ends, sessions.c.updated_at,
                sessions.c.ended_at, menus.c.name.label("menu_name"),
                menus.c.updated_at.label("menu_updated_at"), menus.c.active.label("menu_active"))
         .select_from(sessions.outerjoin(menus, menus.c.id == sessions.c.menu_id))
         .where(sessions.c.gateway_id == bindparam("gateway_id"), sessions.c.session_key == bindparam("key")))
_LOAD_LOCKED = _LOAD.with_for_update(of=sessions)
# built once: a hop runs these with its values (SQLAlchemy spends more building a statement than running it)
_STORE = update(sessions).where(sessions.c.id == bindparam("_session"))


def load(conn: Connection, gateway_id: int, key: str) -> Row[Any] | None:
    """The session and its menu's name, version and state, locked until the hop commits (two hops of
    one session never interleave)."""
    query = _LOAD_LOCKED if conn.dialect.name == "postgresql" else _LOAD
    return conn.execute(query, {"gateway_id": gateway_id, "key": key}).first()


def create(conn: Connection, gateway_id: int, key: str, msisdn: str, code: str, menu_id: int | None,
           at: datetime) -> int:
    """A new session row; its id. Raises IntegrityError when another process created it first."""
    return int(conn.execute(insert(sessions).values(
        gateway_id=gateway_id, session_key=key, msisdn=msisdn, code=code, menu_id=menu_id, page=0, history=[],
        values={}, visited=[], last_ends=False, started_at=at, updated_at=at).returning(sessions.c.id)).scalar_one())


def restart(conn: Connection, session_id: int, msisdn: str, code: str, menu_id: int | None, at: datetime) -> None:
    """The row of an ended session whose key a gateway uses again, made a new session."""
    conn.execute(update(sessions).where(sessions.c.id == session_id).values(
        msisdn=msisdn, code=code, menu_id=menu_id, screen=None, page=0, history=[], values={}, visited=[],
        language=None, last_request=None, last_answer=None, last_ends=False, end_reason=None, started_at=at,
        updated_at=at, ended_at=None))


def store(conn: Connection, session_id: int, **values: Any) -> None:
    conn.execute(_STORE, {"_session": session_id, **values})


def is_idle(updated_at: datetime, at: datetime) -> bool:
    return _aware(at) - _aware(updated_at) > IDLE


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def expire_idle(conn: Connection, idle: timedelta = IDLE) -> int:
    """End every open session idle longer than `idle` (one UPDATE through the open-sessions index);
    how many. Their values are dropped: what a subscriber typed is not kept past the session."""
    cutoff = now(conn) - idle
    return conn.execute(update(sessions).where(sessions.c.ended_at.is_(None), sessions.c.updated_at < cutoff)
                        .values(ended_at=now(conn), end_reason="expired", values={})).rowcount


def end(conn: Connection, gateway_id: int, key: str, reason: str = "released") -> bool:
    """A gateway says the session is over (the subscriber hung up, the network released it); whether
    an open session was ended."""
    return conn.execute(update(sessions).where(sessions.c.gateway_id == gateway_id, sessions.c.session_key == key,
                                               sessions.c.ended_at.is_(None))
                        .values(ended_at=now(conn), end_reason=reason[:16], values={})).rowcount > 0


def terminal_gateway(conn: Connection) -> int:
    """The id of the built-in "terminal" gateway (`engage ussd try`), created the first time."""
    found = conn.execute(select(gateways.c.id).where(gateways.c.name == TERMINAL)).scalar()
    if found is not None:
        return int(found)
    return int(conn.execute(insert(gateways).values(name=TERMINAL, kind=TERMINAL, config={},
                                                    token=secrets.token_hex(16)).returning(gateways.c.id)).scalar_one())
