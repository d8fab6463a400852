"""Usage totals: each subscriber's sum and count of events per kind over the standard windows (the
last 7, 30, 60 and 90 days), as of the last refresh.

A usage criterion over raw events sums about a million rows per count at a million subscribers
(over a second); over the totals it is an index range on the value. Totals are never trusted as
they stand: the criterion corrects them exactly with the events that entered or left its window
between `as_of` and the moment asked about, which are few when the refresh is recent (it runs
hourly in the sweeper and after each usage import). Events imported late (dated before `as_of`)
are added to the totals by the import itself, under the same lock as the refresh.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from engage.engine.store.schema import UsageEvent, UsageTotal, UsageTotalsState

WINDOWS = (7, 30, 60, 90)
SUMMED = ("sum", "count")  # days_active (distinct days) cannot be corrected by addition
USAGE_LOCK = 0x75736167  # pg advisory lock key: "usag"
STATE_ID = 1
REFRESH_EVERY = 3600.0  # s: usage criteria correct the totals exactly, but cheaper when fresh

totals = UsageTotal.__table__
COLUMNS = ["kind", "days", "subscriber_id", "total", "events"]
NEXT = "usage_totals_next"


def lock(conn: Connection) -> None:
    """Refreshes and late imports take turns, so an increment is never applied to totals that a
    concurrent refresh is about to replace. Held until the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": USAGE_LOCK})


def as_of(conn: Connection) -> datetime | None:
    """When the totals were computed, in UTC; None when they never were."""
    moment = conn.execute(select(UsageTotalsState.as_of).where(UsageTotalsState.id == STATE_ID)).scalar()
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def refresh(engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    """Recompute every total in one transaction; readers keep seeing the old ones until it commits.
    One pass over the last 90 days of events, grouped by kind and subscriber."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    started = time.perf_counter()
    with engine.begin() as conn:
        lock(conn)
        if conn.dialect.name == "postgresql":
            rows = _rebuild_postgres(conn, moment)
        else:
            conn.execute(delete(totals))
            conn.execute(insert(totals).from_select(COLUMNS, _windowed(moment)))
            rows = conn.execute(select(func.count()).select_from(totals)).scalar_one()
        conn.execute(delete(UsageTotalsState.__table__))
        conn.execute(insert(UsageTotalsState.__table__).values(
            id=STATE_ID, as_of=moment, windows=",".join(map(str, WINDOWS))))
    if engine.dialect.name == "postgresql":  # statistics, and the visibility map index-only scans need
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE usage_totals")
    return {"as_of": moment.isoformat(), "rows": rows, "seconds": round(time.perf_counter() - started, 3)}


def refresh_if_stale(engine: Engine, now: datetime | None = None,
                     every: float = REFRESH_EVERY) -> dict[str, Any] | None:
    """refresh() when the totals are ``every`` seconds old or were never computed; else None."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with engine.connect() as conn:
        summed_at = as_of(conn)
    if summed_at is not None and (now - summed_at).total_seconds() < every:
        return None
    return refresh(engine, now)


def _rebuild_postgres(conn: Connection, moment: datetime) -> int:
    """Millions of rows: written into a new table without indexes, indexed by sorting once, then
    swapped in for the old one. Maintaining the live table's indexes row by row took minutes; the
    swap locks readers out only for the instant of the renames at commit."""
    for setting in ("work_mem = '256MB'", "maintenance_work_mem = '512MB'", "jit = off"):
        conn.exec_driver_sql(f"SET LOCAL {setting}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {NEXT}")
    conn.exec_driver_sql(f"CREATE TABLE {NEXT} (LIKE usage_totals INCLUDING DEFAULTS)")
    nxt = Table(NEXT, MetaData(), *(Column(c.name, c.type) for c in totals.columns))
    conn.execute(insert(nxt).from_select(COLUMNS, _windowed(moment)))
    rows = conn.execute(select(func.count()).select_from(nxt)).scalar_one()  # rowcount is -1 for this INSERT
    conn.exec_driver_sql(f"ALTER TABLE {NEXT} ADD CONSTRAINT {NEXT}_pkey PRIMARY KEY (kind, days, subscriber_id)")
    conn.exec_driver_sql(f"CREATE INDEX ix_{NEXT}_total ON {NEXT} (kind, days, total) INCLUDE (subscriber_id, events)")
    conn.exec_driver_sql("DROP TABLE usage_totals")
    conn.exec_driver_sql(f"ALTER TABLE {NEXT} RENAME TO usage_totals")
    conn.exec_driver_sql(f"ALTER INDEX {NEXT}_pkey RENAME TO usage_totals_pkey")
    conn.exec_driver_sql(f"ALTER INDEX ix_{NEXT}_total RENAME TO ix_usage_totals_total")
    return rows


def _windowed(moment: datetime) -> Any:
    e = UsageEvent
    cutoffs = {days: moment - timedelta(days=days) for days in WINDOWS}
    columns = []
    for days, cutoff in cutoffs.items():
        inside = e.at >= cutoff
        columns += [func.sum(case((inside, e.amount), else_=0.0)).label(f"t{days}"),
                    func.sum(case((inside, 1), else_=0)).label(f"n{days}")]
    per = (select(e.kind, e.subscriber_id, *columns)
           .where(e.at >= cutoffs[max(WINDOWS)], e.at <= moment)
           .group_by(e.kind, e.subscriber_id).cte("per"))
    return union_all(*(select(per.c.kind, literal(days), per.c.subscriber_id, per.c[f"t{days}"], per.c[f"n{days}"])
                       .where(per.c[f"n{days}"] > 0) for days in WINDOWS))


def add_late(conn: Connection, events: Iterable[tuple[int, str, datetime, float]]) -> int:
    """Events dated at or before `as_of` (subscriber_id, kind, at UTC, amount) added to the totals of
    every window they fall in; call inside the importing transaction after lock(). Returns how
    many totals changed."""
    moment = as_of(conn)
    if moment is None:
        return 0
    sums: dict[tuple[str, int, int], list[float]] = {}
    for subscriber_id, kind, at, amount in events:
        if at > moment:
            continue
        for days in WINDOWS:
            if at >= moment - timedelta(days=days):
                entry = sums.setdefault((kind, days, subscriber_id), [0.0, 0])
                entry[0] += amount
                entry[1] += 1
    if not sums:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(totals)
    stmt = stmt.on_conflict_do_update(index_elements=["kind", "days", "subscriber_id"], set_={
        "total": totals.c.total + stmt.excluded.total, "events": totals.c.events + stmt.excluded.events})
    conn.execute(stmt, [{"kind": k, "days": d, "subscriber_id": s, "total": t, "events": n}
                        for (k, d, s), (t, n) in sums.items()])
    return len(sums)


@dataclass(frozen=True)
class Correction:
    """One subscriber whose window value moved since as_of: what the totals hold (None: no row)
    and by how much the events since change it."""

    subscriber_id: int
    stored: float | None
    delta: float

    @property
    def value(self) -> float:
        return (self.stored or 0.0) + self.delta


class Reader:
    """The totals as a segment compile sees them, through its connection (and so its snapshot)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._as_of: list[datetime | None] = []

    def as_of(self) -> datetime | None:
        if not self._as_of:
            self._as_of.append(as_of(self.conn))
        return self._as_of[0]

    def corrections(self, kind: str, days: int, agg: str, now: datetime, limit: int) -> list[Correction] | None:
        """Subscribers whose value over [now - days, now] differs from the totals' over
        [as_of - days, as_of]: the events of (as_of, now] and [now - days, as_of - days) count in,
        those of (now, as_of] and [as_of - days, now - days) count out (of each pair one range is
        empty). None when more than `limit` moved: the totals are too old to be worth correcting."""
        summed_at = self.as_of()
        if summed_at is None:
            return None
        e = UsageEvent
        unit = e.amount if agg == "sum" else literal(1.0)
        span = timedelta(days=days)

        def events(sign: int, *where: Any) -> Any:
            return select(e.subscriber_id.label("sid"), (unit * sign).label("v")).where(e.kind == kind, *where)

        delta = union_all(
            events(1, e.at > summed_at, e.at <= now), events(-1, e.at > now, e.at <= summed_at),
            events(-1, e.at >= summed_at - span, e.at < now - span),
            events(1, e.at >= now - span, e.at < summed_at - span)).subquery("delta")
        moved = select(delta.c.sid, func.sum(delta.c.v).label("d")).group_by(delta.c.sid).subquery("moved")
        stored = UsageTotal.total if agg == "sum" else UsageTotal.events
        rows = self.conn.execute(
            select(moved.c.sid, stored, moved.c.d).select_from(moved.outerjoin(UsageTotal, and_(
                UsageTotal.kind == kind, UsageTotal.days == days, UsageTotal.subscriber_id == moved.c.sid)))
            .limit(limit + 1)).all()
        if len(rows) > limit:
            return None
        return [Correction(sid, None if value is None else float(value), float(d)) for sid, value, d in rows]
