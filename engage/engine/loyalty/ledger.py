"""Posting points. Every movement is an entry; the member's balance row changes in the same
transaction, by the entry's amounts, so the balance is always what the entries add up to.

Credits (earn, a positive adjustment, exchange in, transfer in) make a lot with its expiry. Debits
(a negative adjustment, exchange out, transfer out, a reversal of a credit) take from the oldest lots
first. A debit never overdraws: the balance row is decremented with `WHERE available >= n`, one
atomic statement, so two concurrent debits cannot both read the same points (no read-then-write);
the CHECK constraints are the last guard.

Idempotency: (source, idem_key) is unique over all entries. `credit` posts a batch in one statement
per table and skips rows whose key was posted before (by this batch or any earlier one); `debit`
and `reverse` answer a repeated key with the entry posted the first time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Row, func, insert, select, text, update

from engage.engine.loyalty import levels, profile
from engage.engine.store.bulk import conflict_insert, insert_rows, insert_unnest
from engage.engine.store.database import aware
from engage.engine.store.schema import LoyaltyBalance, LoyaltyEntry, LoyaltyLot

CREDITS = ("earn", "adjust", "exchange_in", "transfer_in", "reversal")
DEBITS = ("adjust", "exchange_out", "transfer_out", "reversal", "partner_burn")
KINDS = ("earn", "hold", "redeem", "release", "expire", "adjust", "transfer_in", "transfer_out", "exchange_in",
         "exchange_out", "reversal", "partner_burn")
# what `reverse` undoes; holds and redemptions are undone by their own workflow (release)
REVERSIBLE = ("earn", "adjust", "exchange_in", "exchange_out", "transfer_in", "transfer_out", "partner_burn")
CAUSES = ("rule", "campaign", "partner", "bulk", "person", "redemption", "expiry", "exchange", "transfer", "system")


class LedgerError(ValueError):
    pass


class InsufficientPoints(LedgerError):
    def __init__(self, member_id: int, wanted: int) -> None:
        super().__init__(f"member {member_id} has fewer than {wanted:,} points available")
        self.member_id, self.wanted = member_id, wanted


@dataclass(frozen=True)
class Credit:
    member_id: int
    points: int
    occurred_at: datetime
    cause: str
    source: str
    idem_key: str
    expires_at: datetime | None = None
    kind: str = "earn"
    cause_id: str | None = None
    actor: str | None = None
    reason: str | None = None
    reverses: int | None = None


@dataclass(frozen=True)
class Posted:
    entry_id: int
    new: bool  # False: the key was posted before; this is that entry


def credit(conn: Connection, credits: Sequence[Credit]) -> list[int]:
    """Post credits; returns the ids of the entries made now (keys posted before are skipped)."""
    return [entry_id for _, entry_id in post_credits(conn, credits)]


def post_credits(conn: Connection, credits: Sequence[Credit]) -> list[tuple[Credit, int]]:
    """Post credits; returns those posted now, each with its entry's id."""
    wrong = next((c for c in credits if c.kind not in CREDITS or c.points <= 0 or c.cause not in CAUSES), None)
    _check(wrong is None, f"a credit is {', '.join(CREDITS)} of a positive number of points with a known cause: "
                          f"{wrong}")
    if not credits:
        return []
    rows = [{"member_id": c.member_id, "kind": c.kind, "points": c.points, "held": 0, "occurred_at": c.occurred_at,
             "cause": c.cause, "cause_id": c.cause_id, "source": c.source, "idem_key": c.idem_key, "actor": c.actor,
             "reason": c.reason, "reverses": c.reverses} for c in credits]
    if conn.dialect.name == "postgresql":  # one statement of arrays, not a placeholder per value
        inserted = insert_unnest(conn, LoyaltyEntry.__table__, rows, returning=("id", "source", "idem_key"),
                                 suffix="ON CONFLICT (source, idem_key) WHERE idem_key IS NOT NULL DO NOTHING")
    else:
        inserted = conn.execute(conflict_insert(conn, LoyaltyEntry.__table__).on_conflict_do_nothing(
            index_elements=["source", "idem_key"], index_where=text("idem_key IS NOT NULL")).returning(
            LoyaltyEntry.id, LoyaltyEntry.source, LoyaltyEntry.idem_key), rows).all()
    made = {(source, key): entry_id for entry_id, source, key in inserted}
    if not made:
        return []
    lots, earned, posted = [], defaultdict(int), []
    for c in credits:
        entry_id = made.pop((c.source, c.idem_key), None)  # pop: a key given twice in the batch posts once
        if entry_id is None:
            continue
        lots.append({"member_id": c.member_id, "entry_id": entry_id, "points": c.points, "remaining": c.points,
                     "earned_at": c.occurred_at, "expires_at": c.expires_at})
        posted.append((c, entry_id))
        if c.kind == "earn":
            earned[c.member_id] += c.points
    insert_rows(conn, LoyaltyLot.__table__, lots)
    _add_to_balances(conn, earned, lots)
    levels.upgrade(conn, set(earned))  # at once, in this transaction
    profile.mirror(conn, {lot["member_id"] for lot in lots})
    return posted


def _add_to_balances(conn: Connection, earned: dict[int, int], lots: Sequence[dict]) -> None:
    """One upsert for the batch: every lot's points become available; `earned` (lifetime) counts
    only what was earned, not what an adjustment or exchange brought."""
    available: dict[int, int] = defaultdict(int)
    for lot in lots:
        available[lot["member_id"]] += lot["points"]
    rows = [{"member_id": m, "available": p, "earned": earned.get(m, 0)} for m, p in sorted(available.items())]
    if conn.dialect.name == "postgresql":
        insert_unnest(conn, LoyaltyBalance.__table__, rows, suffix=(
            "ON CONFLICT (member_id) DO UPDATE SET available = loyalty_balances.available + EXCLUDED.available, "
            "earned = loyalty_balances.earned + EXCLUDED.earned, updated_at = now()"))
        return
    stmt = conflict_insert(conn, LoyaltyBalance.__table__)
    stmt = stmt.on_conflict_do_update(index_elements=["member_id"], set_={
        "available": LoyaltyBalance.available + stmt.excluded.available,
        "earned": LoyaltyBalance.earned + stmt.excluded.earned, "updated_at": func.now()})
    conn.execute(stmt, rows)


def debit(conn: Connection, member_id: int, points: int, *, kind: str, cause: str, source: str, idem_key: str,
          occurred_at: datetime | None = None, cause_id: str | None = None, actor: str | None = None,
          reason: str | None = None, reverses: int | None = None, unearn: bool = False) -> Posted:
    """Take points, oldest lots first; InsufficientPoints when fewer are available (nothing is
    taken then). unearn: the points were earned by mistake (a reversed earn): lifetime earned drops."""
    _check(kind in DEBITS and points > 0 and cause in CAUSES,
           f"a debit is {', '.join(DEBITS)} of a positive number of points with a known cause")
    before = _posted(conn, source, idem_key)
    if before is not None:
        return Posted(before, False)
    take(conn, member_id, points, unearn=unearn)
    entry_id = conn.execute(insert(LoyaltyEntry).values(
        member_id=member_id, kind=kind, points=-points, held=0, occurred_at=occurred_at or datetime.now(UTC),
        cause=cause, cause_id=cause_id, source=source, idem_key=idem_key, actor=actor, reason=reason,
        reverses=reverses).returning(LoyaltyEntry.id)).scalar_one()
    return Posted(entry_id, True)


def take(conn: Connection, member_id: int, points: int, *, hold_id: int | None = None, unearn: bool = False) -> None:
    """Lower the available points (to `held` when for a hold) and empty lots oldest first by as many.
    The balance row is updated first: its row lock orders every posting for one member."""
    values: dict = {"available": LoyaltyBalance.available - points, "updated_at": func.now()}
    if hold_id is not None:
        values["held"] = LoyaltyBalance.held + points
    elif unearn:  # a reversal of a credit: it was never earned after all
        values["earned"] = LoyaltyBalance.earned - points
    done = conn.execute(update(LoyaltyBalance).where(LoyaltyBalance.member_id == member_id,
                                                     LoyaltyBalance.available >= points).values(**values))
    if done.rowcount != 1:
        raise InsufficientPoints(member_id, points)
    if hold_id is not None:
        conn.execute(text(f"INSERT INTO loyalty_hold_lots (hold_id, lot_id, points) SELECT :hold, id, take "
                          f"FROM ({OLDEST_FIRST}) AS t"), {"member": member_id, "points": points, "hold": hold_id})
        conn.execute(text("UPDATE loyalty_lots SET remaining = remaining - hl.points FROM loyalty_hold_lots AS hl "
                          "WHERE hl.hold_id = :hold AND loyalty_lots.id = hl.lot_id"), {"hold": hold_id})
    else:
        conn.execute(text(f"UPDATE loyalty_lots SET remaining = remaining - t.take FROM ({OLDEST_FIRST}) AS t "
                          "WHERE loyalty_lots.id = t.id"), {"member": member_id, "points": points})
    profile.mirror(conn, [member_id])


# the lots to take `points` from, oldest expiry first (never-expiring last), and how much from each
OLDEST_FIRST = """
    SELECT id, CASE WHEN remaining < :points - before THEN remaining ELSE :points - before END AS take
    FROM (SELECT id, remaining, coalesce(sum(remaining) OVER (ORDER BY expires_at IS NULL, expires_at, id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
          FROM loyalty_lots WHERE member_id = :member AND remaining > 0) AS o
    WHERE before < :points"""


def reverse(conn: Connection, entry_id: int, *, actor: str, reason: str, source: str, idem_key: str,
            cause: str = "person") -> Posted:
    """The compensating entry of a credit (its points taken back, oldest lots first) or of a debit
    (its points given back as a new lot). cause: who undoes it (a person; a partner its own transaction)."""
    entry = conn.execute(select(LoyaltyEntry).where(LoyaltyEntry.id == entry_id)).first()
    if entry is None:
        raise LedgerError(f"entry {entry_id}: there is no such entry")
    if entry.kind not in REVERSIBLE:
        raise LedgerError(f"entry {entry_id}: a {entry.kind} entry is undone by its own workflow, not reversed")
    done = conn.execute(select(LoyaltyEntry.id).where(LoyaltyEntry.reverses == entry_id)).first()
    if done is not None:
        before = _posted(conn, source, idem_key)
        if before == done[0]:
            return Posted(before, False)
        raise LedgerError(f"entry {entry_id}: reversed already, by entry {done[0]}")
    if entry.points > 0:
        return debit(conn, entry.member_id, entry.points, kind="reversal", cause=cause, source=source,
                     idem_key=idem_key, actor=actor, reason=reason, reverses=entry_id, cause_id=str(entry_id),
                     unearn=entry.kind == "earn")
    posted = credit(conn, [Credit(entry.member_id, -entry.points, datetime.now(UTC), cause, source, idem_key,
                                  kind="reversal", actor=actor, reason=reason, reverses=entry_id,
                                  cause_id=str(entry_id))])
    return Posted(posted[0], True) if posted else Posted(_posted(conn, source, idem_key) or 0, False)


def _posted(conn: Connection, source: str, idem_key: str) -> int | None:
    return conn.execute(select(LoyaltyEntry.id).where(LoyaltyEntry.source == source,
                                                      LoyaltyEntry.idem_key == idem_key)).scalar()


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise LedgerError(message)


@dataclass(frozen=True)
class Balance:
    member_id: int
    available: int
    held: int
    earned: int
    redeemed: int
    expired: int
    expiring: list[tuple[datetime, int]] = field(default_factory=list)  # (when, points) within the window


def balance(conn: Connection, member_id: int, *, expiring_within: timedelta = timedelta(days=30),
            now: datetime | None = None) -> Balance | None:
    """The member's balance and the points that expire within the window, soonest first."""
    row = conn.execute(select(LoyaltyBalance).where(LoyaltyBalance.member_id == member_id)).first()
    if row is None:
        return None
    now = now or datetime.now(UTC)
    soon = conn.execute(
        select(LoyaltyLot.expires_at, func.sum(LoyaltyLot.remaining))
        .where(LoyaltyLot.member_id == member_id, LoyaltyLot.remaining > 0, LoyaltyLot.expires_at.is_not(None),
               LoyaltyLot.expires_at <= now + expiring_within)
        .group_by(LoyaltyLot.expires_at).order_by(LoyaltyLot.expires_at)).all()
    return Balance(member_id, row.available, row.held, row.earned, row.redeemed, row.expired,
                   [(aware(at), int(points)) for at, points in soon])


def entries(conn: Connection, member_id: int, *, limit: int = 100, before_id: int | None = None) -> list[Row]:
    """The member's entries, newest first (a page of them)."""
    query = select(LoyaltyEntry).where(LoyaltyEntry.member_id == member_id)
    if before_id is not None:
        query = query.where(LoyaltyEntry.id < before_id)
    return list(conn.execute(query.order_by(LoyaltyEntry.id.desc()).limit(limit)).all())
