"""The consumers of the event stream: each a name and a fold, run by the events worker over what is
new for it, under its own watermark (`consumer:<name>` in analytics_watermarks).

A consumer's fold and its watermark move in one transaction, so a crash mid-batch repeats nothing
and skips nothing. The watermark row is locked while its batch folds (FOR UPDATE SKIP LOCKED on
PostgreSQL; SQLite's transactions take the write lock at BEGIN), so any number of events workers
may run: each consumer's batch is folded by one of them.

A fold that raises is rolled back alone (a savepoint): the others go on, its watermark stays, the
error is logged with the event ids it failed on and kept in the watermark's detail (status() shows
it), and the batch is tried again after a pause that doubles with each failure (up to a minute).

A consumer registers itself in its own module, with one decorator:

    from engage.engine.analytics.consumers import consumer

    @consumer("loyalty_awards", kinds={"delivered"})
    def fold(conn: Connection, events: Sequence[Row]) -> None:
        ...

and its module is added to CONSUMER_MODULES below (named, not imported: analytics does not depend
on the rooms that read its stream; they depend on it)."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import Connection, Engine, Row, func, select, update

from engage.engine.analytics import stream
from engage.engine.store.bulk import conflict_insert
from engage.engine.store.database import aware
from engage.engine.store.schema import Event
from engage.engine.store.schema_analytics import AnalyticsWatermark

log = logging.getLogger(__name__)

# the modules whose import registers a consumer: one line per consumer module
CONSUMER_MODULES: tuple[str, ...] = (
    "engage.engine.analytics.delivery_stats",
    "engage.engine.loyalty.awards",
)
PREFIX = "consumer:"
MAX_BACKOFF = 60.0  # seconds between tries of a failing consumer, at most

Fold = Callable[[Connection, Sequence[Row[Any]]], None]
watermarks = AnalyticsWatermark.__table__

FOLDED = Counter("engage_events_folded_total", "Events an events consumer folded", ["consumer"])
FOLD_ERRORS = Counter("engage_events_fold_errors_total", "Batches an events consumer failed to fold", ["consumer"])
LAG = Gauge("engage_events_lag_seconds", "Age of the oldest event a consumer has not folded yet (0: none)",
            ["consumer"])


@dataclass(frozen=True)
class Consumer:
    name: str
    fold: Fold
    kinds: frozenset[str] | None = None  # only events of these kinds are handed to fold; None: all
    start: str = "beginning"  # "beginning": the whole stream; "now": the events after its registration


_CONSUMERS: dict[str, Consumer] = {}


def register(name: str, fold: Fold, *, kinds: Collection[str] | None = None, start: str = "beginning") -> Consumer:
    """Add a consumer. `start`="now" makes a new consumer begin at the stream's end (a reader whose
    fold acts, such as awards, must not act on the history it joins)."""
    if not name or len(PREFIX + name) > 64:
        raise ValueError(f"consumer name {name!r}: 1 to {64 - len(PREFIX)} characters")
    if start not in ("beginning", "now"):
        raise ValueError(f"start {start!r}: 'beginning' or 'now'")
    found = Consumer(name, fold, frozenset(kinds) if kinds is not None else None, start)
    _CONSUMERS[name] = found
    return found


def consumer(name: str, *, kinds: Collection[str] | None = None,
             start: str = "beginning") -> Callable[[Fold], Fold]:
    """Register the decorated fold as the consumer `name` (see register)."""

    def add(fold: Fold) -> Fold:
        register(name, fold, kinds=kinds, start=start)
        return fold

    return add


def unregister(name: str) -> None:
    _CONSUMERS.pop(name, None)


def registry() -> dict[str, Consumer]:
    """Every consumer: importing their modules registers them (once; Python caches the import)."""
    for module in CONSUMER_MODULES:
        importlib.import_module(module)
    return dict(_CONSUMERS)


def run_once(engine: Engine, *, limit: int = stream.LIMIT, max_messages: int = stream.MAX_MESSAGES,
             now: float | None = None, grace: float = stream.GRACE,
             only: Collection[str] | None = None) -> dict[str, Any]:
    """One batch for each consumer (or those named in `only`); returns {"events": folded in all,
    "full": whether any stopped at a bound (more is waiting), "consumers": name -> its outcome}."""
    moment = time.time() if now is None else now
    outcomes: dict[str, dict[str, Any]] = {}
    for name, found in registry().items():
        if only is not None and name not in only:
            continue
        try:
            outcomes[name] = _run(engine, found, limit=limit, max_messages=max_messages, now=moment, grace=grace)
        except Exception as exc:  # the database itself failed us: the next tick tries again
            log.exception("events consumer %s: could not run", name)
            FOLD_ERRORS.labels(name).inc()
            outcomes[name] = {"events": 0, "full": False, "error": _said(exc)}
    return {"events": sum(o["events"] for o in outcomes.values()),
            "full": any(o["full"] for o in outcomes.values()), "consumers": outcomes}


def _run(engine: Engine, found: Consumer, *, limit: int, max_messages: int, now: float,
         grace: float) -> dict[str, Any]:
    key = PREFIX + found.name
    with engine.begin() as conn:
        mark = _claim(conn, key, found.start)
        if mark is None:
            return {"events": 0, "full": False, "busy": True}  # another worker folds it now
        last_id, detail = mark.last_id, dict(mark.detail or {})
        failed = detail.get("error")
        if failed and now < failed.get("retry_at", 0):
            return {"events": 0, "full": False, "error": failed["message"]}
        batch = stream.read(conn, last_id, detail, now=now, limit=limit, max_messages=max_messages, grace=grace)
        mine = [e for e in batch.events if found.kinds is None or e.kind in found.kinds]
        try:
            with conn.begin_nested():
                if mine:
                    found.fold(conn, mine)
        except Exception as exc:
            first, last = batch.events[0].id, batch.events[-1].id
            log.exception("events consumer %s: folding events %s..%s failed; tried again later", found.name,
                          first, last)
            FOLD_ERRORS.labels(found.name).inc()
            failures = (failed or {}).get("failures", 0) + 1
            error = {"message": _said(exc), "first_id": first, "last_id": last, "failures": failures,
                     "at": datetime.now(UTC).isoformat(), "retry_at": now + min(MAX_BACKOFF, 2.0 ** (failures - 1))}
            _save(conn, key, last_id, {**batch.detail, "error": error})
            return {"events": 0, "full": False, "error": error["message"]}
        if batch.last_id != last_id or batch.detail != detail:
            _save(conn, key, batch.last_id, batch.detail)
    FOLDED.labels(found.name).inc(len(batch.events))
    return {"events": len(batch.events), "full": batch.full, "last_id": batch.last_id,
            **({"waiting": batch.waiting} if batch.waiting else {})}


def _claim(conn: Connection, key: str, start: str) -> Row[Any] | None:
    """The consumer's watermark, locked for this transaction; None when another holds it."""
    query = select(watermarks.c.last_id, watermarks.c.detail).where(watermarks.c.name == key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    mark = conn.execute(query).first()
    if mark is not None:
        return mark
    begin = conn.execute(select(func.coalesce(func.max(Event.id), 0))).scalar_one() if start == "now" else 0
    conn.execute(conflict_insert(conn, watermarks).values(name=key, last_id=begin, detail={})
                 .on_conflict_do_nothing(index_elements=["name"]))
    return conn.execute(query).first()


def _save(conn: Connection, key: str, last_id: int, detail: dict[str, Any]) -> None:
    conn.execute(update(watermarks).where(watermarks.c.name == key).values(
        last_id=last_id, detail=detail, updated_at=func.now()))


def _said(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def status(conn: Connection) -> list[dict[str, Any]]:
    """Each consumer's place in the stream: its watermark, how far behind the newest event it is (in
    events and in seconds), the gap it waits on, and its last error if its fold is failing."""
    names = registry()
    rows = {r.name[len(PREFIX):]: r for r in conn.execute(
        select(watermarks).where(watermarks.c.name.like(PREFIX + "%")))}
    newest = conn.execute(select(func.max(Event.id))).scalar() or 0
    out = []
    for name in sorted(set(names) | set(rows)):
        row = rows.get(name)
        last_id = row.last_id if row is not None else 0
        detail = (row.detail if row is not None else None) or {}
        out.append({"name": name, "registered": name in names, "last_id": last_id,
                    "behind": max(0, newest - last_id), "lag_seconds": lag_seconds(conn, last_id),
                    "waiting": detail.get("gap"), "error": detail.get("error"),
                    "updated_at": aware(row.updated_at) if row is not None else None})
    return out


def lag_seconds(conn: Connection, last_id: int) -> float:
    """How old the first event after `last_id` is (0 when there is none): how late a reader is."""
    oldest = conn.execute(select(Event.at).where(Event.id > last_id).order_by(Event.id).limit(1)).scalar()
    if oldest is None:
        return 0.0
    return max(0.0, round((datetime.now(UTC) - aware(oldest)).total_seconds(), 3))


def watch_lag(engine: Engine) -> None:
    """Set the lag gauge of every consumer (the events worker calls it after a tick)."""
    with engine.connect() as conn:
        for row in status(conn):
            LAG.labels(row["name"]).set(row["lag_seconds"])
