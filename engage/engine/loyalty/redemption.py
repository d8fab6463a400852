"""Spending points in two phases. `hold` sets the points aside (taken from the oldest lots, which
are remembered); fulfilment then `confirm`s (the points are spent) or `release`s them (they go back to
the lots they came from, with those lots' own expiry). Each phase is one short transaction of its
own, so a worker that dies between them leaves a hold that is still `held`: `open_holds` finds it and
the fulfilment is asked again or the hold released, never lost and never spent twice.

A hold is idempotent on (source, idem_key): a partner or USSD request given twice holds once, and
the second call is answered with the first hold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from engage.engine.loyalty import profile
from engage.engine.loyalty.ledger import InsufficientPoints, LedgerError, take
from engage.engine.store.schema import LoyaltyBalance, LoyaltyEntry, LoyaltyHold


@dataclass(frozen=True)
class Hold:
    id: int
    member_id: int
    points: int
    state: str
    new: bool = True  # False: the key was held before; this is that hold
    reward_id: int | None = None


def hold(engine: Engine, member_id: int, points: int, *, source: str, idem_key: str,
         reward_id: int | None = None, reserve: Callable[[Connection, int], None] | None = None) -> Hold:
    """Set points aside in a transaction of its own; InsufficientPoints when the member has fewer
    available (then nothing is held). reserve(conn, hold_id) runs in that transaction (a reward's
    stock and limits): what it raises undoes the hold."""
    try:
        with engine.begin() as conn:
            return hold_in(conn, member_id, points, source=source, idem_key=idem_key, reward_id=reward_id,
                           reserve=reserve)
    except IntegrityError:  # the same key, held at the same moment by another transaction: that one stands
        with engine.connect() as conn:
            found = _find(conn, source, idem_key)
        if found is None:
            raise
        return found


def hold_in(conn: Connection, member_id: int, points: int, *, source: str, idem_key: str,
            reward_id: int | None = None, reserve: Callable[[Connection, int], None] | None = None) -> Hold:
    """The same inside the caller's transaction (a USSD hop's, so that the hold and the hop commit
    together); the caller's transaction answers for a concurrent hold of the same key."""
    if points <= 0:
        raise LedgerError("a hold is of a positive number of points")
    before = _find(conn, source, idem_key)
    if before is not None:
        return before
    hold_id = conn.execute(insert(LoyaltyHold).values(
        member_id=member_id, points=points, state="held", reward_id=reward_id, source=source,
        idem_key=idem_key).returning(LoyaltyHold.id)).scalar_one()
    take(conn, member_id, points, hold_id=hold_id)
    _entry(conn, member_id, "hold", -points, points, hold_id, f"{hold_id}:hold")
    if reserve is not None:
        reserve(conn, hold_id)
    return Hold(hold_id, member_id, points, "held", reward_id=reward_id)


def confirm(conn: Connection, hold_id: int, detail: dict[str, Any] | None = None) -> Hold:
    """The reward was fulfilled: the held points are spent. Confirming twice changes nothing;
    confirming a released hold is refused."""
    return _decide(conn, hold_id, "confirmed", detail)


def release(conn: Connection, hold_id: int, detail: dict[str, Any] | None = None) -> Hold:
    """Fulfilment failed: the points go back to the lots they came from. Releasing twice changes
    nothing; releasing a confirmed hold is refused."""
    return _decide(conn, hold_id, "released", detail)


def _decide(conn: Connection, hold_id: int, state: str, detail: dict[str, Any] | None) -> Hold:
    row = conn.execute(select(LoyaltyHold).where(LoyaltyHold.id == hold_id)).first()
    if row is None:
        raise LedgerError(f"hold {hold_id}: there is no such hold")
    member_id, points = row.member_id, row.points
    # the balance row first, as every posting for this member takes it first
    conn.execute(update(LoyaltyBalance).where(LoyaltyBalance.member_id == member_id).values(
        updated_at=func.now()))
    moved = conn.execute(update(LoyaltyHold).where(LoyaltyHold.id == hold_id, LoyaltyHold.state == "held").values(
        state=state, decided_at=func.now(), detail=detail))
    if moved.rowcount != 1:
        now = conn.execute(select(LoyaltyHold.state).where(LoyaltyHold.id == hold_id)).scalar_one()
        if now == state:
            return Hold(hold_id, member_id, points, state, new=False, reward_id=row.reward_id)
        raise LedgerError(f"hold {hold_id}: it was {now} already")
    if state == "confirmed":
        conn.execute(update(LoyaltyBalance).where(LoyaltyBalance.member_id == member_id).values(
            held=LoyaltyBalance.held - points, redeemed=LoyaltyBalance.redeemed + points))
        _entry(conn, member_id, "redeem", 0, -points, hold_id, f"{hold_id}:confirm")
    else:
        conn.execute(update(LoyaltyBalance).where(LoyaltyBalance.member_id == member_id).values(
            held=LoyaltyBalance.held - points, available=LoyaltyBalance.available + points))
        conn.execute(text("UPDATE loyalty_lots SET remaining = remaining + hl.points FROM loyalty_hold_lots AS hl "
                          "WHERE hl.hold_id = :hold AND loyalty_lots.id = hl.lot_id"), {"hold": hold_id})
        _entry(conn, member_id, "release", points, -points, hold_id, f"{hold_id}:release")
        profile.mirror(conn, [member_id])
    return Hold(hold_id, member_id, points, state, reward_id=row.reward_id)


def open_holds(conn: Connection, older_than: timedelta, now: datetime | None = None) -> list[Hold]:
    """Holds still undecided after `older_than`: their fulfilment died half way."""
    cutoff = (now or datetime.now(UTC)) - older_than
    rows = conn.execute(select(LoyaltyHold).where(LoyaltyHold.state == "held", LoyaltyHold.created_at <= cutoff)
                        .order_by(LoyaltyHold.created_at)).all()
    return [Hold(r.id, r.member_id, r.points, r.state, new=False, reward_id=r.reward_id) for r in rows]


def _find(conn: Connection, source: str, idem_key: str) -> Hold | None:
    row = conn.execute(select(LoyaltyHold).where(LoyaltyHold.source == source,
                                                 LoyaltyHold.idem_key == idem_key)).first()
    return None if row is None else Hold(row.id, row.member_id, row.points, row.state, new=False,
                                         reward_id=row.reward_id)


def _entry(conn: Connection, member_id: int, kind: str, points: int, held: int, hold_id: int, key: str) -> None:
    conn.execute(insert(LoyaltyEntry).values(
        member_id=member_id, kind=kind, points=points, held=held, occurred_at=datetime.now(UTC), cause="redemption",
        cause_id=str(hold_id), source="redemption", idem_key=key, hold_id=hold_id))


__all__ = ["Hold", "InsufficientPoints", "confirm", "hold", "hold_in", "open_holds", "release"]
