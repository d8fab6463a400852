"""Expiring points: a set-based job over the lots that are due, a batch of them per transaction, taken
in the order of the open-lots index (member, expiry, id), so a batch holds whole members: a member's
balance is lowered once for all of their lots that are due, and the entries go into the members'
index in its order.

Per batch: the balances of the batch's members are locked first, in member order, as every posting
takes a balance before its lots; then an `expire` entry is written per lot (its lot_id names it, and a
lot is emptied once, so the entry needs no idempotency key of its own), the sums are taken off the
balances and the lots are emptied (on PostgreSQL one statement does the three, reading the lots
once), and the subscribers' profile fields follow the balances (profile). Running it twice, or two at
once, expires nothing twice: the lots it empties are the ones it counted, under the balances' locks.

On PostgreSQL a few batches run at once (WORKERS): their bounds are found one after the other (a short
walk of the index each), and they hold disjoint members but for one that straddles two, whose balance
the second waits for (both lock in member order, so neither deadlocks)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, bindparam, text

from engage.engine.loyalty import profile
from engage.engine.store.schema import LoyaltyLot

BATCH_IDS = 200_000  # lots per transaction (a member's lots may straddle two)
WORKERS = 2  # batches at once, on PostgreSQL

_OPEN = "l.remaining > 0 AND l.expires_at <= :now"
_KEY = "(l.member_id, l.expires_at, l.id)"  # the order of ix_loyalty_lots_open


@dataclass
class ExpiryReport:
    lots: int = 0
    points: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"lots": self.lots, "points": self.points, "batches": self.batches}


def expire_due(engine: Engine, now: datetime | None = None, *, batch_ids: int = BATCH_IDS,
               workers: int = WORKERS) -> ExpiryReport:
    """Expire every lot due by `now` (the clock by default), `batch_ids` lots per transaction and
    `workers` transactions at once (one on SQLite, which has one writer)."""
    now = now or datetime.now(UTC)
    report = ExpiryReport()

    def expire(bounds: tuple[tuple[Any, ...] | None, tuple[Any, ...]]) -> tuple[int, int]:
        with engine.begin() as conn:
            return _expire_batch(conn, *bounds, now)

    serial = workers <= 1 or engine.dialect.name != "postgresql"
    pool = None if serial else ThreadPoolExecutor(workers, thread_name_prefix="expiry")
    try:
        done = map(expire, _batches(engine, now, batch_ids)) if pool is None else pool.map(
            expire, _batches(engine, now, batch_ids))
        for lots, points in done:
            report.lots += lots
            report.points += points
            report.batches += 1
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)  # a batch failed: the ones not begun are not begun
    return report


def _batches(engine: Engine, now: datetime, size: int) -> Iterator[tuple[tuple[Any, ...] | None, tuple[Any, ...]]]:
    """Each batch's bounds: the key after which it begins (None: the first) and its last lot's."""
    after = None
    while True:
        with engine.connect() as conn:
            last = _last_of_batch(conn, after, now, size)
        if last is None:
            return
        yield after, last
        after = last


def _sql(statement: str) -> TextClause:
    """`now` bound as the column's type: SQLite keeps times as text in its own format. The keys are
    bound as the database gave them."""
    return text(statement).bindparams(bindparam("now", type_=LoyaltyLot.__table__.c.expires_at.type))


# Each key bound comes with the bound on the member it implies: the planner estimates that one from
# its statistics (a row comparison it cannot), so it reads a batch through the index, not the table.

def _after(after: tuple[Any, ...] | None) -> str:
    return "" if after is None else f" AND {_KEY} > (:m0, :e0, :i0) AND l.member_id >= :m0"


def _params(after: tuple[Any, ...] | None, now: datetime, **more: Any) -> dict[str, Any]:
    params = {"now": now, **more}
    if after is not None:
        params.update(m0=after[0], e0=after[1], i0=after[2])
    return params


def _last_of_batch(conn: Connection, after: tuple[Any, ...] | None, now: datetime,
                   size: int) -> tuple[Any, ...] | None:
    """The key of the batch's last lot: `size` due lots on from `after` (fewer at the end); None when
    none is left."""
    row = conn.execute(_sql(
        f"SELECT member_id, expires_at, id FROM (SELECT l.member_id, l.expires_at, l.id FROM loyalty_lots AS l "
        f"WHERE {_OPEN}{_after(after)} ORDER BY l.member_id, l.expires_at, l.id LIMIT :size) AS b "
        "ORDER BY member_id DESC, expires_at DESC, id DESC LIMIT 1"), _params(after, now, size=size)).first()
    return None if row is None else tuple(row)


def _expire_batch(conn: Connection, after: tuple[Any, ...] | None, last: tuple[Any, ...],
                  now: datetime) -> tuple[int, int]:
    due = f"{_OPEN}{_after(after)} AND {_KEY} <= (:m1, :e1, :i1) AND l.member_id <= :m1"
    params = _params(after, now, m1=last[0], e1=last[1], i1=last[2])
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL jit = off"))  # compiling these plain statements costs more than it saves
        # the balances first, in member order, as every posting takes them first
        conn.execute(_sql("SELECT 1 FROM loyalty_balances WHERE member_id = ANY(ARRAY(SELECT DISTINCT l.member_id "
                          f"FROM loyalty_lots AS l WHERE {due})) ORDER BY member_id FOR UPDATE"), params)
        lots, points, members = conn.execute(_sql(f"""
            WITH due AS MATERIALIZED (SELECT l.id, l.member_id, l.remaining, l.expires_at FROM loyalty_lots AS l
                                      WHERE {due}),
            written AS (INSERT INTO loyalty_entries (member_id, kind, points, held, occurred_at, cause, source, lot_id)
                        SELECT member_id, 'expire', -remaining, 0, expires_at, 'expiry', 'expiry', id FROM due),
            lowered AS (UPDATE loyalty_balances SET available = available - d.points, expired = expired + d.points
                        FROM (SELECT member_id, sum(remaining) AS points FROM due GROUP BY member_id
                              ORDER BY member_id) AS d
                        WHERE loyalty_balances.member_id = d.member_id RETURNING loyalty_balances.member_id),
            emptied AS (UPDATE loyalty_lots AS l SET remaining = 0 WHERE {due})
            SELECT count(*), coalesce(sum(remaining), 0), (SELECT array_agg(member_id) FROM lowered) FROM due"""),
            params).one()
        profile.mirror_where(conn, "SELECT unnest(CAST(:expired AS bigint[]))", {"expired": members or []})
        return int(lots), int(points)
    lots, points = conn.execute(_sql(f"SELECT count(*), coalesce(sum(l.remaining), 0) FROM loyalty_lots AS l "
                                     f"WHERE {due}"), params).one()
    members = conn.execute(_sql(f"SELECT DISTINCT l.member_id FROM loyalty_lots AS l WHERE {due}"),
                           params).scalars().all()
    conn.execute(_sql(
        "INSERT INTO loyalty_entries (member_id, kind, points, held, occurred_at, cause, source, lot_id) "
        f"SELECT l.member_id, 'expire', -l.remaining, 0, l.expires_at, 'expiry', 'expiry', l.id "
        f"FROM loyalty_lots AS l WHERE {due}"), params)
    conn.execute(_sql(
        "UPDATE loyalty_balances SET available = available - d.points, expired = expired + d.points "
        f"FROM (SELECT l.member_id, sum(l.remaining) AS points FROM loyalty_lots AS l WHERE {due} "
        "GROUP BY l.member_id) AS d WHERE loyalty_balances.member_id = d.member_id"), params)
    conn.execute(_sql(f"UPDATE loyalty_lots AS l SET remaining = 0 WHERE {due}"), params)
    profile.mirror(conn, members)
    return int(lots), int(points)
