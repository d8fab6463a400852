"""Loyalty on a USSD menu: actions a screen names (engine/ussd/actions.py's registry), so that a
menu shows a member's points and lets a subscriber join, without a line of code:

    my_points:
      type: action
      action: loyalty_balance
      params: {programme: club}
      on: {ok: points_shown, not_member: join_offer, no_programme: rewards_soon}

    points_shown:
      type: end
      text: "You have {{ points }} points. {{ expiring_points }} expire on {{ expiring_on }}."

loyalty_balance's results: points (available), held, level, expiring_points and expiring_on (the
points expiring within 30 days, and when the first of them do). loyalty_join enrols the number
(via "ussd"): ok, or already a member."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from engage.engine.loyalty import ledger, members, programmes
from engage.engine.store.schema import Subscriber
from engage.engine.ussd.actions import ActionCall, Outcome, ussd_action

EXPIRING_WITHIN = timedelta(days=30)


def _check_programme(params: dict[str, Any]) -> str | None:
    value = params.get("programme")
    return None if isinstance(value, str) and value.strip() else "programme: the loyalty programme's code"


def _membership(call: ActionCall) -> tuple[Outcome | None, Any, members.Member | None, int | None]:
    """(an early outcome, the programme, the member, the subscriber id)."""
    try:
        programme = programmes.get(call.conn, str(call.params["programme"]).strip().lower())
    except LookupError:
        return Outcome("no_programme"), None, None, None
    if not call.is_number:
        return Outcome("not_a_number"), programme, None, None
    subscriber_id = call.conn.execute(select(Subscriber.id).where(Subscriber.msisdn == call.msisdn)).scalar()
    member = None if subscriber_id is None else members.find(call.conn, programme.id, subscriber_id)
    return None, programme, member, subscriber_id


@ussd_action("loyalty_balance", outcomes=("ok", "not_member", "no_programme", "not_a_number"),
             params=("programme",), required=("programme",), check=_check_programme)
def balance(call: ActionCall) -> Outcome:
    early, _, member, _ = _membership(call)
    if early:
        return early
    if member is None or member.status == "closed":
        return Outcome("not_member")
    b = ledger.balance(call.conn, member.id, expiring_within=EXPIRING_WITHIN)
    expiring = sum(p for _, p in b.expiring) if b else 0
    return Outcome("ok", {"points": b.available if b else 0, "held": b.held if b else 0,
                          "level": member.level or "", "expiring_points": expiring,
                          "expiring_on": b.expiring[0][0].date().isoformat() if b and b.expiring else ""})


@ussd_action("loyalty_join", outcomes=("ok", "already", "not_subscriber", "no_programme", "not_a_number"),
             params=("programme",), required=("programme",), check=_check_programme)
def join(call: ActionCall) -> Outcome:
    early, programme, member, subscriber_id = _membership(call)
    if early:
        return early
    if subscriber_id is None:
        return Outcome("not_subscriber")
    if member is not None:
        return Outcome("already")
    members.enrol(call.conn, programme.id, [subscriber_id], "ussd")
    return Outcome("ok", {"points": 0})
