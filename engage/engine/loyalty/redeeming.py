"""Redeeming a reward, start to end: the reward's conditions checked (on offer, the member's level,
their limit), the points held with the reward's stock taken in the same transaction, the reward
fulfilled (fulfilment.py), then the points confirmed (spent) or released (given back, the stock
too). A fulfilment that could not be decided (the provisioning system timed out) leaves the hold
`held`: the sweeper (`settle_open`, a periodic job) asks again with the same idempotency key, and
releases after MAX_ATTEMPTS. A worker that dies between hold and confirmation is covered the same
way: nothing is lost, nothing is spent twice."""

from __future__ import annotations

from collections.abc import Callable
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
    """Redeem, the hold in a transaction of its own; NotRedeemable or InsufficientPoints (nothing
    held then). The same key again answers with the first redemption."""
    with engine.connect() as conn:
        reward, reserve = _prepare(conn, programme_id, member_id, reward_code, now or datetime.now(UTC))
    held = redemption.hold(engine, member_id, reward.points, source=source, idem_key=idem_key, reward_id=reward.id,
                           reserve=reserve)
    if not held.new and held.state != "held":
        with engine.connect() as conn:
            return _answer(conn, held.id)
    return settle(engine, held.id)


def redeem_in(conn: Connection, programme_id: int, member_id: int, reward_code: str, *, source: str,
              idem_key: str, now: datetime | None = None) -> Redemption:
    """The same inside the caller's transaction (a USSD hop's). A reward fulfilled here (nothing to
    call, a voucher code) is decided at once; one fulfilled by an outside system stays held and the
    sweeper fulfils it (a hop has no time to wait on another system)."""
    reward, reserve = _prepare(conn, programme_id, member_id, reward_code, now or datetime.now(UTC))
    held = redemption.hold_in(conn, member_id, reward.points, source=source, idem_key=idem_key, reward_id=reward.id,
                              reserve=reserve)
    if held.state == "held" and not fulfilment.FULFILMENTS[reward.fulfilment].external:
        _fulfil_in(conn, held.id, reward, None)
    return _answer(conn, held.id)


def _prepare(conn: Connection, programme_id: int, member_id: int, reward_code: str,
             now: datetime) -> tuple[rewards.Reward, Callable[[Connection, int], None]]:
    """The reward, once its conditions are met, and what its hold reserves (limit, stock)."""
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
    ladder = levels.of(member.settings)
    if reward.level and ladder and ladder.rank(member.level) < ladder.rank(reward.level):
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

    return reward, reserve


def settle(engine: Engine, hold_id: int) -> Redemption:
    """Fulfil a held redemption and decide it (or leave it held when the answer must wait)."""
    with engine.connect() as conn:
        hold = conn.execute(select(LoyaltyHold.state, LoyaltyHold.reward_id).where(LoyaltyHold.id == hold_id)).one()
        reward = rewards.by_id(conn, hold.reward_id)
        request = _request(conn, hold_id, reward)
    if hold.state != "held":
        with engine.connect() as conn:
            return _answer(conn, hold_id)
    adapter = fulfilment.FULFILMENTS[reward.fulfilment]
    result = adapter.run(None, request) if adapter.external else None
    with engine.begin() as conn:
        _fulfil_in(conn, hold_id, reward, result)
        return _answer(conn, hold_id)


def _request(conn: Connection, hold_id: int, reward: rewards.Reward) -> fulfilment.Request:
    hold = conn.execute(select(LoyaltyHold.member_id, LoyaltyHold.points).where(LoyaltyHold.id == hold_id)).one()
    msisdn = conn.execute(select(Subscriber.msisdn).join(
        LoyaltyMember, LoyaltyMember.subscriber_id == Subscriber.id).where(
        LoyaltyMember.id == hold.member_id)).scalar()
    return fulfilment.Request(hold_id, hold.member_id, msisdn, reward.id, reward.code, hold.points, reward.config)


def _fulfil_in(conn: Connection, hold_id: int, reward: rewards.Reward, result: fulfilment.Result | None) -> None:
    """Decide the hold by the adapter's result (run here, in this transaction, when it is None)."""
    detail = conn.execute(select(LoyaltyHold.detail).where(LoyaltyHold.id == hold_id)).scalar() or {}
    attempts = int(detail.get("attempts", 0)) + 1
    if result is None:
        result = fulfilment.FULFILMENTS[reward.fulfilment].run(conn, _request(conn, hold_id, reward))
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


def settle_open(engine: Engine, now: datetime | None = None) -> dict[str, int]:
    """The sweeper: redemptions left held longer than RETRY_AFTER, asked again."""
    with engine.connect() as conn:
        waiting = [h.id for h in redemption.open_holds(conn, RETRY_AFTER, now) if h.reward_id is not None]
    states = [settle(engine, hold_id).state for hold_id in waiting]
    return {"tried": len(states), "confirmed": states.count("confirmed"), "released": states.count("released")}


def _answer(conn: Connection, hold_id: int) -> Redemption:
    hold = conn.execute(select(LoyaltyHold.state, LoyaltyHold.points, LoyaltyHold.detail).where(
        LoyaltyHold.id == hold_id)).one()
    return Redemption(hold_id, hold.state, hold.points, dict(hold.detail or {}))
