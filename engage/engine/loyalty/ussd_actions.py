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
(via "ussd"): ok, or already a member. loyalty_rewards lists the rewards the member's level reaches,
loyalty_pick turns the number answered into that reward, and loyalty_redeem redeems it once the
member confirmed (examples/ussd/loyalty.yaml walks them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from engage.engine.loyalty import ledger, members, programmes
from engage.engine.store.schema import LoyaltyProgramme, Subscriber
from engage.engine.ussd.actions import ActionCall, Outcome, ussd_action

EXPIRING_WITHIN = timedelta(days=30)
MAX_LISTED = 6  # a USSD screen holds 182 characters


def check_programme(params: dict[str, Any]) -> str | None:
    value = params.get("programme")
    return None if isinstance(value, str) and value.strip() else "programme: the loyalty programme's code"


def membership(call: ActionCall) -> tuple[Outcome | None, Any, members.Member | None, int | None]:
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
             params=("programme",), required=("programme",), check=check_programme)
def balance(call: ActionCall) -> Outcome:
    early, _, member, _ = membership(call)
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
             params=("programme",), required=("programme",), check=check_programme)
def join(call: ActionCall) -> Outcome:
    early, programme, member, subscriber_id = membership(call)
    if early:
        return early
    if subscriber_id is None:
        return Outcome("not_subscriber")
    if member is not None:
        return Outcome("already")
    members.enrol(call.conn, programme.id, [subscriber_id], "ussd")
    return Outcome("ok", {"points": 0})


def _offered(call: ActionCall, programme: Any, member: members.Member) -> list[Any]:
    """The rewards this member's level reaches, cheapest first: the listing a choice number points into."""
    from engage.engine.loyalty import levels, rewards

    settings = call.conn.execute(select(LoyaltyProgramme.settings).where(
        LoyaltyProgramme.id == programme.id)).scalar()
    ladder = levels.of(settings)
    rank = None if ladder is None else (lambda name: ladder.rank(member.level) >= ladder.rank(name))
    return rewards.catalogue(call.conn, programme.id, level_rank=rank)[:MAX_LISTED]


@ussd_action("loyalty_rewards", outcomes=("ok", "none", "not_member", "no_programme", "not_a_number"),
             params=("programme",), required=("programme",), check=check_programme)
def catalogue(call: ActionCall) -> Outcome:
    """results: rewards (the numbered list, in the session's language), reward_count."""
    early, programme, member, _ = membership(call)
    if early:
        return early
    if member is None or member.status != "active":
        return Outcome("not_member")
    offered = _offered(call, programme, member)
    if not offered:
        return Outcome("none")
    listed = "\n".join(f"{i}. {r.name(call.language)}: {r.points}" for i, r in enumerate(offered, 1))
    return Outcome("ok", {"rewards": listed, "reward_count": len(offered)})


@ussd_action("loyalty_pick", outcomes=("ok", "invalid", "not_member", "no_programme", "not_a_number"),
             params=("programme", "choice"), required=("programme", "choice"), check=check_programme)
def pick(call: ActionCall) -> Outcome:
    """The choice-th reward of the listing; results reward_code, reward_name, reward_points."""
    early, programme, member, _ = membership(call)
    if early:
        return early
    if member is None or member.status != "active":
        return Outcome("not_member")
    offered = _offered(call, programme, member)
    choice = str(call.params.get("choice", "")).strip()
    if not choice.isdigit() or not 1 <= int(choice) <= len(offered):
        return Outcome("invalid")
    reward = offered[int(choice) - 1]
    return Outcome("ok", {"reward_code": reward.code, "reward_name": reward.name(call.language),
                          "reward_points": reward.points})


@ussd_action("loyalty_redeem", outcomes=("ok", "pending", "refused", "too_few_points", "not_member", "no_programme",
                                         "not_a_number"),
             params=("programme", "reward"), required=("programme", "reward"), check=check_programme)
def redeem(call: ActionCall) -> Outcome:
    """Redeem the reward the member confirmed, in the hop's transaction, keyed by the session: the
    same session redeems it once. A reward an outside system fulfils is `pending` (the sweeper
    finishes it). results: voucher (a partner's code, when there is one), points_left, why (refused)."""
    from engage.engine.loyalty import redeeming
    from engage.engine.loyalty.ledger import InsufficientPoints

    early, programme, member, _ = membership(call)
    if early:
        return early
    if member is None or member.status != "active":
        return Outcome("not_member")
    try:
        with call.conn.begin_nested():  # a refusal undoes only what this redemption had begun
            done = redeeming.redeem_in(call.conn, programme.id, member.id, str(call.params["reward"]),
                                       source="ussd", idem_key=f"{call.session_id}:{call.params['reward']}")
    except InsufficientPoints:
        return Outcome("too_few_points")
    except (redeeming.NotRedeemable, LookupError) as exc:
        return Outcome("refused", {"why": str(exc)})
    left = ledger.balance(call.conn, member.id)
    results = {"points_left": left.available if left else 0, "voucher": str(done.detail.get("voucher", ""))}
    return Outcome({"confirmed": "ok", "held": "pending"}.get(done.state, "refused"), results)
