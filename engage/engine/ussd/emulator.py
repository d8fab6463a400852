"""The phone emulator of the /menus pages: a person at a browser dials a code as a number and walks
the menu through dialog.step, the door every gateway uses, so what they see is what a subscriber
sees (the number's profile and language, pagination, hints, actions).

Its hops come through a built-in gateway row named "emulator" (made on first use, like the
"terminal" of `engage ussd try`; no gateway kind serves it, so /ussd/emulator answers no one). A
session is named by the server (a random token the page sends back on each hop) and filed under
who walks it, so that one person can neither answer nor see another's session. Actions act for
real on the number's subscriber: the dial is in the audit log, with the number and the menu."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from engage.engine.audit import audit
from engage.engine.store.schema_ussd import UssdGateway
from engage.engine.ussd import menus, sessions
from engage.engine.ussd.dialog import Hop, UssdError, step
from engage.engine.ussd.pages import USSD_MAX

EMULATOR = "emulator"
DEFAULT_MSISDN = "+998901000000"  # the first of `engage demo`'s subscribers
SESSION = re.compile(r"[0-9a-f]{16}\Z")
gateways = UssdGateway.__table__


@dataclass(frozen=True)
class Shown:
    """What the emulator's screen shows after a hop; ``session`` is None once the session is over."""

    session: str | None
    text: str
    ends: bool


def gateway(engine: Engine) -> int:
    """The id of the built-in "emulator" gateway, created the first time (by one request of any that race)."""
    for _ in range(2):
        try:
            with engine.begin() as conn:
                found = conn.execute(select(gateways.c.id).where(gateways.c.name == EMULATOR)).scalar()
                if found is not None:
                    return int(found)
                return int(conn.execute(insert(gateways).values(
                    name=EMULATOR, kind=EMULATOR, config={}, token=secrets.token_hex(16)).returning(gateways.c.id))
                    .scalar_one())
        except IntegrityError:  # another request made it between the two statements: read it
            continue
    raise RuntimeError("the emulator's gateway row could not be created")


def dial(engine: Engine, *, caller: str, code: str, msisdn: str, max_chars: int = USSD_MAX) -> Shown:
    """A new session: the first screen of the menu on ``code`` as ``msisdn`` sees it. UssdError names a
    field that cannot be a hop's (an empty code, an over-long number)."""
    session = secrets.token_hex(8)
    screen = step(engine, Hop(gateway(engine), _key(caller, session), msisdn, code, None, max_chars=max_chars))
    with engine.begin() as conn:
        _audit_dial(conn, caller, code, msisdn)
    return Shown(None if screen.ends else session, screen.text, screen.ends)


def answer(engine: Engine, *, caller: str, session: str, code: str, msisdn: str, text: str,
           max_chars: int = USSD_MAX) -> Shown:
    """The next screen of the caller's session after ``text``; UssdError for a session that is not
    the caller's or does not exist."""
    _check_session(session)
    screen = step(engine, Hop(gateway(engine), _key(caller, session), msisdn, code, text, max_chars=max_chars))
    return Shown(None if screen.ends else session, screen.text, screen.ends)


def hang_up(engine: Engine, *, caller: str, session: str) -> bool:
    """The caller's session ended as a subscriber hanging up would end it; whether it was open."""
    _check_session(session)
    gateway_id = gateway(engine)
    with engine.begin() as conn:
        return sessions.end(conn, gateway_id, _key(caller, session), "released")


def _check_session(session: str) -> None:
    if not isinstance(session, str) or not SESSION.match(session):
        raise UssdError("session: the token the emulator's last answer gave (16 hex digits)")


def _key(caller: str, session: str) -> str:
    """The session's key: the caller's own (a digest of who they are) and the session's token."""
    return f"{EMULATOR}:{hashlib.sha256(caller.encode()).hexdigest()[:16]}:{session}"


def _audit_dial(conn: Connection, caller: str, code: str, msisdn: str) -> None:
    found = menus.for_code(conn, code)
    audit(conn, caller, "ussd_menu.try", "ussd_menu", found.id if found else None, code=code[:32],
          msisdn=msisdn[:32], menu=found.name if found else None)
