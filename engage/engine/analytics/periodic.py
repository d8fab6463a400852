"""Periodic jobs of the events worker: work that is due every N seconds rather than on each event
(refreshing the effectiveness tables, say), run after the consumers have folded what was new.

A job registers itself in its own module, and that module is named in PERIODIC_MODULES:

    from engage.engine.analytics.periodic import periodic

    @periodic("effectiveness", every=300)
    def refresh(engine: Engine, now: datetime) -> dict[str, Any]:
        ...

When a job is next due is kept in the database (`periodic:<name>` in analytics_watermarks), so any
number of events workers run each job once per period between them, and a restart does not run
every job again at once. A job is claimed before it runs (its next time moved on, committed), so a
worker that dies in the middle of one leaves it to the next period; the job's own transactions are
its own. A job that raises is logged and kept in its row's detail; the others run."""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, update

from engage.engine.store.bulk import conflict_insert
from engage.engine.store.schema_analytics import AnalyticsWatermark

log = logging.getLogger(__name__)

# the modules whose import registers a periodic job: one line per module
PERIODIC_MODULES: tuple[str, ...] = (
    "engage.engine.analytics.effectiveness.keeping_fresh",
    "engage.engine.loyalty.jobs",
)
PREFIX = "periodic:"

Job = Callable[[Engine, datetime], dict[str, Any]]
watermarks = AnalyticsWatermark.__table__


@dataclass(frozen=True)
class Periodic:
    name: str
    every: float  # seconds
    fn: Job


_JOBS: dict[str, Periodic] = {}


def register(name: str, every: float, fn: Job) -> Periodic:
    if not name or len(PREFIX + name) > 64:
        raise ValueError(f"periodic job name {name!r}: 1 to {64 - len(PREFIX)} characters")
    if every <= 0:
        raise ValueError(f"periodic job {name}: every must be a positive number of seconds")
    job = Periodic(name, float(every), fn)
    _JOBS[name] = job
    return job


def periodic(name: str, *, every: float) -> Callable[[Job], Job]:
    """Register the decorated function as the job `name`, run every `every` seconds."""

    def add(fn: Job) -> Job:
        register(name, every, fn)
        return fn

    return add


def unregister(name: str) -> None:
    _JOBS.pop(name, None)


def registry() -> dict[str, Periodic]:
    for module in PERIODIC_MODULES:
        importlib.import_module(module)
    return dict(_JOBS)


def run_due(engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    """Run the jobs that are due; returns name -> what the job returned (or {"error": ...})."""
    moment = now or datetime.now(UTC)
    done: dict[str, Any] = {}
    for name, job in registry().items():
        try:
            if not _claim(engine, job, moment.timestamp()):
                continue
        except Exception:
            log.exception("periodic job %s: could not claim", name)
            continue
        started = time.perf_counter()
        try:
            result, error = job.fn(engine, moment), None
        except Exception as exc:
            log.exception("periodic job %s failed", name)
            result, error = None, f"{type(exc).__name__}: {exc}"[:500]
        seconds = round(time.perf_counter() - started, 3)
        done[name] = result if error is None else {"error": error}
        try:
            _record(engine, job, moment, seconds, result, error)
        except Exception:
            log.exception("periodic job %s: could not record its run", name)
    return done


def _claim(engine: Engine, job: Periodic, now: float) -> bool:
    """Whether this worker runs the job now: it was due, and its next time is moved on (committed)."""
    key = PREFIX + job.name
    with engine.begin() as conn:
        conn.execute(conflict_insert(conn, watermarks).values(name=key, last_id=0, detail={"next_at": 0})
                     .on_conflict_do_nothing(index_elements=["name"]))
        query = select(watermarks.c.detail).where(watermarks.c.name == key)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = conn.execute(query).first()
        if row is None:
            return False  # another worker is claiming it
        detail = dict(row.detail or {})
        if detail.get("next_at", 0) > now:
            return False
        detail["next_at"] = now + job.every
        conn.execute(update(watermarks).where(watermarks.c.name == key).values(detail=detail, updated_at=func.now()))
    return True


def _record(engine: Engine, job: Periodic, at: datetime, seconds: float, result: Any, error: str | None) -> None:
    key = PREFIX + job.name
    with engine.begin() as conn:
        detail = dict(conn.execute(select(watermarks.c.detail).where(watermarks.c.name == key)).scalar() or {})
        detail.update(last_run=at.isoformat(), seconds=seconds, error=error)
        if error is None:
            # what a job returns may hold dates or decimals: kept as JSON says them
            detail["result"] = json.loads(json.dumps(result, default=str)) if isinstance(result, dict) else None
        conn.execute(update(watermarks).where(watermarks.c.name == key).values(detail=detail, updated_at=func.now()))


def status(engine: Engine) -> list[dict[str, Any]]:
    """Each job's period, last run, time it took, result or error, and next time."""
    with engine.connect() as conn:
        rows = {r.name[len(PREFIX):]: r.detail or {} for r in conn.execute(
            select(watermarks.c.name, watermarks.c.detail).where(watermarks.c.name.like(PREFIX + "%")))}
    return [{"name": name, "every": job.every, **rows.get(name, {})} for name, job in sorted(registry().items())]
