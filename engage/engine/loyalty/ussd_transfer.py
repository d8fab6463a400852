"""Giving points on a USSD menu: the screen names who (a number the member typed) and how many,
usually after an input screen for each and a confirmation:

    give_confirm:
      type: menu
      text: "Give {{ points_to_give }} points to {{ give_to }}?"
      options: [{key: "1", label: "Yes", next: give}]

    give:
      type: action
      action: loyalty_transfer
      params: {programme: club, to: "{{ give_to }}", points: "{{ points_to_give }}"}
      on: {ok: given, too_few_points: too_few, receiver_not_member: not_there, invalid: give_to_ask}

The session is the key: the same session gives once. results: points_left, to (the receiver's
number as written in E.164)."""

from __future__ import annotations

from typing import Any

from engage import config
from engage.engine import phones
from engage.engine.loyalty import ledger, transfers
from engage.engine.loyalty.ledger import InsufficientPoints
from engage.engine.loyalty.ussd_actions import check_programme, membership
from engage.engine.ussd.actions import ActionCall, Outcome, ussd_action


def _check(params: dict[str, Any]) -> str | None:
    return check_programme(params) or (None if params.get("to") and params.get("points") else
                                        "to, points: the receiver's number and the points, e.g. \"{{ give_to }}\"")


@ussd_action("loyalty_transfer", outcomes=("ok", "too_few_points", "receiver_not_member", "invalid", "not_member",
                                           "no_programme", "not_a_number"),
             params=("programme", "to", "points"), required=("programme", "to", "points"), check=_check)
def give(call: ActionCall) -> Outcome:
    early, programme, member, _ = membership(call)
    if early:
        return early
    if member is None or member.status != "active":
        return Outcome("not_member")
    amount = str(call.params.get("points", "")).strip()
    try:
        to = phones.to_e164(str(call.params.get("to", "")), config.load().default_region)
    except phones.InvalidNumber:
        return Outcome("invalid", {"why": "not a phone number"})
    if not amount.isdigit() or not 0 < int(amount) <= transfers.MOST:
        return Outcome("invalid", {"why": "not a number of points"})
    receiver = transfers.member_by_number(call.conn, programme.id, to)
    if receiver is None:
        return Outcome("receiver_not_member", {"to": to})
    try:
        with call.conn.begin_nested():  # a refusal undoes only what this transfer had begun
            transfers.transfer(call.conn, programme.id, member.id, receiver, int(amount), source="ussd",
                               idem_key=f"transfer:{call.session_id}", actor=call.msisdn)
    except InsufficientPoints:
        return Outcome("too_few_points")
    except transfers.TransferError as exc:
        return Outcome("receiver_not_member" if exc.field == "to" else "invalid", {"to": to, "why": str(exc)})
    left = ledger.balance(call.conn, member.id)
    return Outcome("ok", {"points_left": left.available if left else 0, "to": to})
