"""Scheduled exports: ENGAGE_EXPORT_EVERY=daily (once a UTC day, soon after midnight) or a number of
minutes between runs; off when empty. The leading scheduler asks `maybe_start` on its ticks; an export
due runs in a thread of its own (a long export must not hold up launching campaigns), every dataset
into ENGAGE_EXPORTS_DIR. When the last scheduled export started is kept in analytics_watermarks
(`export:schedule`), so a restarted or new leader carries on from it."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from engage import config
from engage.engine.analytics.exports.state import ExportState, save, watermarks

log = logging.getLogger(__name__)
SCHEDULE = "export:schedule"


def interval(every: str) -> timedelta | None:
    """'daily' -> a day; '15' -> 15 minutes; '' or '0' -> None (off). ValueError for anything else."""
    every = every.strip().lower()
    if every in ("", "0", "off"):
        return None
    if every == "daily":
        return timedelta(days=1)
    minutes = int(every)
    if minutes < 0:
        raise ValueError(every)
    return timedelta(minutes=minutes)


def is_due(every: str, last: datetime | None, now: datetime) -> bool:
    step = interval(every)
    if step is None:
        return False
    if last is None:
        return True
    if step == timedelta(days=1):
        return now.date() > last.date()
    return now - last >= step


def last_started(engine: Engine) -> datetime | None:
    with engine.connect() as conn:
        detail = conn.execute(select(watermarks.c.detail).where(watermarks.c.name == SCHEDULE)).scalar()
    started = (detail or {}).get("cursor", {}).get("started")
    return datetime.fromisoformat(started) if started else None


class ScheduledExports:
    """Owned by one scheduler process; at most one export thread at a time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.thread: threading.Thread | None = None

    def maybe_start(self, now: datetime | None = None) -> bool:
        settings = config.load()
        now = now or datetime.now(UTC)
        if self.thread is not None and self.thread.is_alive():
            return False
        try:
            if not is_due(settings.export_every, last_started(self.engine), now):
                return False
        except ValueError:
            log.error("ENGAGE_EXPORT_EVERY=%r: 'daily' or a number of minutes; scheduled exports are off",
                      settings.export_every)
            return False
        save(self.engine, SCHEDULE, ExportState(cursor={"started": now.isoformat()}), settings.exports_dir, 0)
        self.thread = threading.Thread(target=self._run, name="scheduled-export", daemon=True)
        self.thread.start()
        return True

    def _run(self) -> None:
        from engage.engine.analytics import exports

        settings = config.load()
        try:
            manifests = exports.run(self.engine, exports.ExportOptions(
                directory=settings.exports_dir, settle=settings.export_settle, text=settings.export_text))
            log.info("scheduled export: %s", {m["dataset"]: m["rows"] for m in manifests})
        except Exception:
            log.exception("scheduled export failed; the next one carries on from the watermarks")

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)
