"""The scheduler process: any number may run; the one holding the leadership lock ticks the
campaigns' clock (engine/campaigns/clock.py), the others wait to take over."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from engage.engine.analytics.exports.scheduled import ScheduledExports
from engage.engine.campaigns import clock
from engage.engine.scheduler.leadership import Leadership
from engage.engine.usage import totals as usage_totals

log = logging.getLogger(__name__)
USAGE_CHECK_EVERY = 60  # ticks
EXPORT_CHECK_EVERY = 30  # ticks: whether a scheduled export (ENGAGE_EXPORT_EVERY) is due


def run(engine: Engine, broker_url: str, stop: threading.Event, *, every: float = 1.0) -> None:
    leadership = Leadership(engine, "scheduler")
    scheduled_exports = ScheduledExports(engine)
    ticks = 0
    ready = False
    try:
        while not stop.is_set():
            try:
                if leadership.held and not leadership.check():
                    log.warning("scheduler: lost leadership (database connection gone)")
                if not leadership.held and leadership.acquire():
                    log.info("scheduler: leading")
                if leadership.held:
                    done = clock.tick(engine)
                    if any(done.values()):
                        log.info("scheduler: %s", done)
                    if ticks % USAGE_CHECK_EVERY == 0:
                        usage_totals.refresh_if_stale(engine)
                    if ticks % EXPORT_CHECK_EVERY == 0:
                        scheduled_exports.maybe_start()
                    ticks += 1
            except Exception:
                log.exception("scheduler tick failed; retrying")
            if not ready:
                log.info("ready (%s)", "leading" if leadership.held else "standing by")
                ready = True
            stop.wait(every)
    finally:
        leadership.release()
