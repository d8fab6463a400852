"""Provider health, as each sender sees it: a heartbeat writes one provider_status row per
(provider, sender process) every couple of seconds; the router and `engage provider status`
read them. A row not refreshed for STALE_SECONDS is a sender that died: its provider does not
count as healthy on its account.

Times are the database's own clock (written with now(), compared with now()), so senders on
hosts with skewed clocks still agree on what is stale.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select

from engage.engine import metrics
from engage.engine.asyncloop import LoopThread
from engage.engine.providers.base import ProviderConnection
from engage.engine.store.bulk import conflict_insert
from engage.engine.store.schema import Provider, ProviderStatus

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 15.0
COUNTERS = ("submitted", "throttled", "temporary_errors", "permanent_errors")
table = ProviderStatus.__table__


def worker_id() -> str:
    """This sender process, as it appears in provider_status.worker."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


@dataclass
class Snapshot:
    """One provider connection's figures at one moment."""

    healthy: bool
    binds_up: int
    binds: int
    in_flight: int
    window: int
    submitted: int
    throttled: int
    temporary_errors: int
    permanent_errors: int
    detail: dict[str, Any]


def snapshot(provider: ProviderConnection) -> Snapshot:
    """Read status() and stats together; missing figures get the meaning schema.py gives them."""
    status = dict(provider.status())
    stats = provider.stats
    binds = int(status.pop("binds", 1))
    binds_up = int(status.pop("binds_up", binds))
    window = status.pop("window", None)
    if window is None:  # in-flight capacity: binds x per-bind window, when the kind did not say
        window = binds * int(provider.config.get("window", 0) or 0)
    healthy = bool(status.pop("healthy", binds_up > 0))
    in_flight = int(status.pop("in_flight", 0))
    detail = {"kind": provider.kind, "reconnects": stats.reconnects, "possible_duplicates": stats.possible_duplicates,
              **{k: v for k, v in status.items() if isinstance(v, str | int | float | bool | None)}}
    return Snapshot(healthy, binds_up, binds, in_flight, int(window), stats.submitted_parts, stats.throttled,
                    stats.temporary_errors, stats.permanent_errors, detail)


def upsert(conn: Connection, provider_id: int, worker: str, row: dict[str, Any]) -> None:
    """One row per (provider, worker), inserted or replaced in one statement on SQLite and PostgreSQL."""
    values = {**row, "updated_at": func.now()}
    stmt = conflict_insert(conn, table).values(provider_id=provider_id, worker=worker, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["provider_id", "worker"], set_=values))


class Heartbeat:
    """Every ``interval`` seconds, one provider_status row per provider connection of this sender,
    and the provider's Prometheus figures. With ``loop``, figures are read on the providers' own
    event loop: a loop too busy to answer within the interval shows the provider unhealthy."""

    def __init__(self, engine: Engine, providers: list[ProviderConnection], *, loop: LoopThread | None = None,
                 worker: str | None = None, interval: float = HEARTBEAT_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.engine = engine
        self.providers = providers
        self.loop = loop
        self.worker = worker or worker_id()
        self.interval = interval
        self.clock = clock
        self._last: dict[int, tuple[float, Snapshot]] = {}
        for p in providers:
            metrics.learn_provider(p.provider_id, p.name)

    def run(self, stop: threading.Event) -> None:
        """Beat until ``stop`` is set, then remove this sender's rows."""
        try:
            while True:
                try:
                    self.beat()
                except Exception:
                    log.exception("provider heartbeat failed; trying again in %.0fs", self.interval)
                if stop.wait(self.interval):
                    break
        finally:
            self.remove()

    def beat(self) -> None:
        now = self.clock()
        snaps = [(p, self._read(p)) for p in self.providers]
        with self.engine.begin() as conn:
            for provider, snap in snaps:
                upsert(conn, provider.provider_id, self.worker, self._row(provider, snap, now))

    def _read(self, provider: ProviderConnection) -> Snapshot:
        """The provider's figures; when they cannot be read, the last ones known, marked unhealthy."""

        async def on_loop() -> Snapshot:
            return snapshot(provider)

        try:
            return snapshot(provider) if self.loop is None else self.loop.run(on_loop(), timeout=self.interval)
        except concurrent.futures.TimeoutError:  # the builtin TimeoutError since 3.11
            error = "event loop did not answer"
        except Exception as exc:
            log.warning("provider %s: could not read its status: %s", provider.name, exc)
            error = f"status unavailable: {type(exc).__name__}"
        previous = self._last.get(provider.provider_id)
        base = previous[1] if previous else Snapshot(False, 0, 0, 0, 0, 0, 0, 0, 0, {})
        return Snapshot(**{**asdict(base), "healthy": False, "detail": {**base.detail, "error": error}})

    def _row(self, provider: ProviderConnection, snap: Snapshot, now: float) -> dict[str, Any]:
        previous = self._last.get(provider.provider_id)
        tps = 0.0
        deltas = {k: getattr(snap, k) for k in COUNTERS}  # the stats count from this sender's start
        deltas["possible_duplicates"] = _duplicates(snap)
        if previous is not None:
            at, before = previous
            deltas = {k: max(0, getattr(snap, k) - getattr(before, k)) for k in COUNTERS}
            deltas["possible_duplicates"] = max(0, _duplicates(snap) - _duplicates(before))
            tps = round(deltas["submitted"] / (now - at), 2) if now > at else 0.0
        self._last[provider.provider_id] = (now, snap)
        metrics.provider_heartbeat(provider.name, {"binds_up": snap.binds_up, "in_flight": snap.in_flight,
                                                   "healthy": snap.healthy}, tps, deltas)
        return {"healthy": snap.healthy, "binds_up": snap.binds_up, "binds": snap.binds,
                "in_flight": snap.in_flight, "window": snap.window, "tps": tps, "submitted": snap.submitted,
                "throttled": snap.throttled, "temporary_errors": snap.temporary_errors,
                "permanent_errors": snap.permanent_errors, "detail": snap.detail}

    def remove(self) -> None:
        """This sender stopped: its rows go, so nobody mistakes it for a live one."""
        for p in self.providers:
            metrics.provider_gone(p.name)
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(table).where(table.c.worker == self.worker,
                                                 table.c.provider_id.in_([p.provider_id for p in self.providers])))
        except Exception:
            log.exception("could not remove this sender's provider status rows; they go stale in %.0fs",
                          STALE_SECONDS)


def read_status(conn: Connection, *, stale_after: float = STALE_SECONDS) -> list[dict[str, Any]]:
    """Every provider with its figures summed over the senders that reported in the last
    ``stale_after`` seconds. Healthy when at least one live sender can send through it."""
    db_now = _aware(conn.execute(select(func.now())).scalar())
    rows = conn.execute(select(table)).all()
    by_provider: dict[int, list] = {}
    for row in rows:
        by_provider.setdefault(row.provider_id, []).append(row)
    out = []
    for p in conn.execute(select(Provider.__table__).order_by(Provider.priority, Provider.id)).all():
        reports = by_provider.get(p.id, [])
        ages = [max(0.0, (db_now - _aware(r.updated_at)).total_seconds()) for r in reports]
        live = [r for r, age in zip(reports, ages, strict=True) if age <= stale_after]
        sums = {k: sum(getattr(r, k) for r in live) for k in ("binds_up", "binds", "in_flight", "window", *COUNTERS)}
        parts = sums["submitted"]
        out.append({
            "provider_id": p.id, "name": p.name, "kind": p.kind, "enabled": p.enabled,
            "healthy": any(r.healthy for r in live), **{k: sums[k] for k in ("binds_up", "binds")},
            "tps": round(sum(r.tps for r in live), 2), "in_flight": sums["in_flight"], "window": sums["window"],
            "window_use": round(sums["in_flight"] / sums["window"], 3) if sums["window"] else None,
            **{k: sums[k] for k in COUNTERS},
            # retries that may have sent a message twice (a reset after the request went out)
            "possible_duplicates": sum(_duplicates(r) for r in live),
            "error_rates": {"throttled": _rate(sums["throttled"], parts),
                            "temporary": _rate(sums["temporary_errors"], parts),
                            "permanent": _rate(sums["permanent_errors"], parts)},
            "workers": len(live), "stale_workers": len(reports) - len(live),
            "last_heartbeat_age": round(min(ages), 1) if ages else None,
        })
    return out


def _duplicates(report: Any) -> int:
    """A snapshot's or a status row's possible duplicates, which it keeps in its detail."""
    value = (report.detail or {}).get("possible_duplicates", 0)
    return value if type(value) is int else 0


def _rate(n: int, parts: int) -> float | None:
    return round(n / parts, 4) if parts else None


def _aware(value: datetime | str) -> datetime:
    """SQLite hands back naive UTC (or, for a bare now(), text); PostgreSQL an aware timestamp."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
