"""Redeeming a reward, start to end: the reward's conditions checked (on offer, the member's level,
their limit), the points held with the reward's stock taken in the same transaction, the reward
fulfilled (fulfilment.py), then the points confirmed (spent) or released (given back, the stock
too). A fulfilment that could not be decided (the provisioning system timed out) leaves the hold
`held`: the sweeper (`settle_open`, a periodic job) asks again with the same idempotency key, and
releases after MAX_ATTEMPTS. A worker that dies between hold and confirmation is covered the same
way: nothing is lost, nothing is spent twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from engage.engine.loyalty import fulfilment, levels, redemption, rewards
from engage.engine.loyalty.ledger import LedgerError
from engage.engine.store.schema import LoyaltyHold, LoyaltyMember, LoyaltyProgramme, LoyaltyReward, Subscriber

MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(minutes=2)


class NotRedeemable(LedgerError):
    """The reward cannot be had now: why, in words a member may be told."""


@dataclass
class Redemption:
    hold_id: int
    state: str  # confirmed | released | held (fulfilment not decided yet)
    points: int
    detail: dict[str, Any] = field(default_factory=dict)


def redeem(engine: Engine, programme_id: int, member_id: int, reward_code: str, *, source: str, idem_key: str,
           now: datetime | None = None) -> Redemption:
    """Redeem; NotRedeemable or InsufficientPoints (nothing held then). The same key again answers
    with the first redemption."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        reward = rewards.get(conn, programme_id, reward_code)
        member = conn.execute(select(LoyaltyMember.level, LoyaltyMember.status, LoyaltyProgramme.settings).join(
            LoyaltyProgramme, LoyaltyProgramme.id == LoyaltyMember.programme_id).where(
            LoyaltyMember.id == member_id)).one()
    if member.status != "active":
        raise NotRedeemable(f"the membership is {member.status}")
    if reward.stock == 0:
        raise NotRedeemable(f"{reward.code} is out of stock")
    if not reward.offered(now):
        raise NotRedeemable(f"{reward.code} is not on offer now")
    programme_levels = levels.of(member.settings)
    if reward.level and programme_levels and programme_levels.rank(member.level) < programme_levels.rank(reward.level):
        raise NotRedeemable(f"{reward.code} is for {reward.level} members and above")

    def reserve(conn: Connection, hold_id: int) -> None:
        if reward.per_member is not None:
            taken = conn.execute(select(func.count()).select_from(LoyaltyHold).where(
                LoyaltyHold.member_id == member_id, LoyaltyHold.reward_id == reward.id,
                LoyaltyHold.state.in_(("held", "confirmed")))).scalar_one()
            if taken > reward.per_member:  # this hold is counted too
                raise NotRedeemable(f"{reward.code} may be redeemed {reward.per_member} time(s) per member")
        if conn.execute(update(LoyaltyReward).where(LoyaltyReward.id == reward.id, LoyaltyReward.stock.is_not(None),
                                                    LoyaltyReward.stock > 0)
                        .values(stock=LoyaltyReward.stock - 1)).rowcount == 0 and reward.stock is not None:
            raise NotRedeemable(f"{reward.code} is out of stock")

    held = redemption.hold(engine, member_id, reward.points, source=source, idem_key=idem_key, reward_id=reward.id,
                           reserve=reserve)
    if not held.new and held.state != "held":
        return _answer(engine, held.id)
    return settle(engine, held.id)


def settle(engine: Engine, hold_id: int) -> Redemption:
    """Fulfil a held redemption and decide it (or leave it held when the answer must wait)."""
    with engine.connect() as conn:
        hold = conn.execute(select(LoyaltyHold).where(LoyaltyHold.id == hold_id)).one()
        reward = rewards.by_id(conn, hold.reward_id)
        msisdn = conn.execute(select(Subscriber.msisdn).join(
            LoyaltyMember, LoyaltyMember.subscriber_id == Subscriber.id).where(
            LoyaltyMember.id == hold.member_id)).scalar()
    if hold.state != "held":
        return _answer(engine, hold_id)
    adapter = fulfilment.FULFILMENTS[reward.fulfilment]
    request = fulfilment.Request(hold_id, hold.member_id, msisdn, reward.id, reward.code, hold.points, reward.config)
    attempts = int((hold.detail or {}).get("attempts", 0)) + 1
    result = adapter.run(None, request) if adapter.external else None
    with engine.begin() as conn:
        if result is None:
            result = adapter.run(conn, request)
        if result.ok:
            redemption.confirm(conn, hold_id, {**result.detail, "attempts": attempts})
        elif result.retry and attempts < MAX_ATTEMPTS:
            conn.execute(update(LoyaltyHold).where(LoyaltyHold.id == hold_id, LoyaltyHold.state == "held").values(
                detail={**result.detail, "attempts": attempts}))
        else:
            redemption.release(conn, hold_id, {**result.detail, "attempts": attempts})
            if reward.stock is not None:
                conn.execute(update(LoyaltyReward).where(LoyaltyReward.id == reward.id).values(
                    stock=LoyaltyReward.stock + 1))
    return _answer(engine, hold_id)


def settle_open(engine: Engine, now: datetime | None = None) -> dict[str, int]:
    """The sweeper: redemptions left held longer than RETRY_AFTER, asked again."""
    with engine.connect() as conn:
        waiting = [h.id for h in redemption.open_holds(conn, RETRY_AFTER, now) if h.reward_id is not None]
    states = [settle(engine, hold_id).state for hold_id in waiting]
    return {"tried": len(states), "confirmed": states.count("confirmed"), "released": states.count("released")}


def _answer(engine: Engine, hold_id: int) -> Redemption:
    with engine.connect() as conn:
        hold = conn.execute(select(LoyaltyHold.state, LoyaltyHold.points, LoyaltyHold.detail).where(
            LoyaltyHold.id == hold_id)).one()
    return Redemption(hold_id, hold.state, hold.points, dict(hold.detail or {}))
