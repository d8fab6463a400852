"""Loyalty by SMS: keyword steps (engine/keywords/steps.py's registry), so that an operator's
keywords join the programme or answer the balance, on the short codes they choose:

    engage keyword add JOIN --short-code 4455 --step '{"kind": "loyalty_join", "programme": "club"}' \
        --reply "Welcome to the club!"
    engage keyword add BAL --short-code 4455 --step '{"kind": "loyalty_balance", "programme": "club"}' \
        --reply "BAL reply"     # a template: "You have {{ loyalty_points }} points."

The balance reaches the reply through the subscriber's loyalty_points, which the ledger keeps
(profile.py); the step records, for the MO's `keyword` event, the balance and what expires within
30 days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select

from engage.engine.keywords.actions import Asked
from engage.engine.keywords.steps import step
from engage.engine.loyalty import ledger, members, programmes
from engage.engine.store.bulk import one_of
from engage.engine.store.schema import LoyaltyMember, Subscriber

EXPIRING_WITHIN = timedelta(days=30)


def _check_programme(conn: Connection, params: dict[str, Any]) -> str | None:
    code = params.get("programme")
    if not isinstance(code, str) or not code.strip():
        return "programme: the loyalty programme's code"
    try:
        programmes.get(conn, code.strip().lower())
    except LookupError:
        return f"programme: there is no loyalty programme {code!r}"
    return None


def _members(conn: Connection, programme_id: int, asked: Asked) -> tuple[dict[str, int], dict[int, tuple[int, str]]]:
    """(number -> subscriber id, subscriber id -> (member id, status)) for the MOs' numbers."""
    numbers = sorted({mo.number for mo, _ in asked})
    subscribers = dict(conn.execute(select(Subscriber.msisdn, Subscriber.id).where(
        one_of(conn, Subscriber.msisdn, numbers))).all())
    found = {s: (m, status) for s, m, status in conn.execute(
        select(LoyaltyMember.subscriber_id, LoyaltyMember.id, LoyaltyMember.status).where(
            LoyaltyMember.programme_id == programme_id,
            one_of(conn, LoyaltyMember.subscriber_id, sorted(subscribers.values()) or [0])))}
    return subscribers, found


@step("loyalty_join", "Join the loyalty programme", ("programme",), _check_programme)
def join(conn: Connection, asked: Asked, params: dict[str, Any]) -> list[dict[str, Any]]:
    programme = programmes.get(conn, params["programme"].strip().lower())
    subscribers, found = _members(conn, programme.id, asked)
    members.enrol(conn, programme.id, [s for s in subscribers.values() if s not in found], "keyword")
    out = []
    for mo, _ in asked:
        sid = subscribers.get(mo.number)
        out.append({"joined": None, "why": "not a subscriber"} if sid is None else
                   {"joined": programme.code, "already": sid in found})
    return out


@step("loyalty_balance", "Tell the loyalty balance (the reply reads {{ loyalty_points }})", ("programme",),
      _check_programme)
def balance(conn: Connection, asked: Asked, params: dict[str, Any]) -> list[dict[str, Any]]:
    programme = programmes.get(conn, params["programme"].strip().lower())
    subscribers, found = _members(conn, programme.id, asked)
    out = []
    for mo, _ in asked:
        member = found.get(subscribers.get(mo.number, -1))
        if member is None or member[1] == "closed":
            out.append({"points": None, "why": "not a member"})
            continue
        b = ledger.balance(conn, member[0], expiring_within=EXPIRING_WITHIN)
        out.append({"points": b.available if b else 0,
                    "expiring": sum(p for _, p in b.expiring) if b else 0})
    return out
