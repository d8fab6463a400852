"""Expiring points: a set-based job over the lots that are due, a range of lot ids per transaction.
Per batch: one INSERT ... SELECT writes an `expire` entry per lot (its lot_id names it, and a lot is
emptied once, so the entry needs no idempotency key of its own), one UPDATE ... FROM takes the sums
off the members' balances, and one UPDATE empties the lots. Running it twice, or two at once,
expires nothing twice: the lots it empties are the ones it counted, under the balances' row locks
that every posting takes first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, TextClause, bindparam, func, select, text

from engage.engine.store.schema import LoyaltyLot

BATCH_IDS = 200_000  # lot ids per transaction

_DUE = "l.id > :low AND l.id <= :high AND l.remaining > 0 AND l.expires_at <= :now"


@dataclass
class ExpiryReport:
    lots: int = 0
    points: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"lots": self.lots, "points": self.points, "batches": self.batches}


def expire_due(engine: Engine, now: datetime | None = None, *, batch_ids: int = BATCH_IDS) -> ExpiryReport:
    """Expire every lot due by `now` (the clock by default)."""
    now = now or datetime.now(UTC)
    report = ExpiryReport()
    with engine.connect() as conn:
        low, high = conn.execute(select(func.min(LoyaltyLot.id), func.max(LoyaltyLot.id)).where(
            LoyaltyLot.remaining > 0, LoyaltyLot.expires_at <= now)).one()
    if low is None:
        return report
    start = low - 1
    while start < high:
        end = min(start + batch_ids, high)
        lots, points = _expire_batch(engine, start, end, now)
        report.lots += lots
        report.points += points
        report.batches += 1
        start = end
    return report


def _sql(statement: str) -> TextClause:
    """`now` bound as the column's type: SQLite keeps times as text in its own format."""
    return text(statement).bindparams(bindparam("now", type_=LoyaltyLot.__table__.c.expires_at.type))


def _expire_batch(engine: Engine, low: int, high: int, now: datetime) -> tuple[int, int]:
    params = {"low": low, "high": high, "now": now}
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # the balances first, as every posting takes them first
            conn.execute(_sql("SELECT 1 FROM loyalty_balances WHERE member_id IN (SELECT l.member_id FROM "
                              f"loyalty_lots AS l WHERE {_DUE}) ORDER BY member_id FOR UPDATE"), params)
        lots, points = conn.execute(_sql(f"SELECT count(*), coalesce(sum(l.remaining), 0) FROM loyalty_lots AS l "
                                         f"WHERE {_DUE}"), params).one()
        if not lots:
            return 0, 0
        conn.execute(_sql(
            "INSERT INTO loyalty_entries (member_id, kind, points, held, occurred_at, cause, source, lot_id) "
            f"SELECT l.member_id, 'expire', -l.remaining, 0, l.expires_at, 'expiry', 'expiry', l.id "
            f"FROM loyalty_lots AS l WHERE {_DUE}"), params)
        conn.execute(_sql(
            "UPDATE loyalty_balances SET available = available - d.points, expired = expired + d.points "
            f"FROM (SELECT l.member_id, sum(l.remaining) AS points FROM loyalty_lots AS l WHERE {_DUE} "
            "GROUP BY l.member_id) AS d WHERE loyalty_balances.member_id = d.member_id"), params)
        conn.execute(_sql(f"UPDATE loyalty_lots AS l SET remaining = 0 WHERE {_DUE}"), params)
    return int(lots), int(points)
