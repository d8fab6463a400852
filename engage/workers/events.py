"""The events worker: the event stream folded into the analytics tables and whatever else reads it
(engine/analytics/consumers.py), then the periodic jobs that are due (engine/analytics/periodic.py).

It looks again at once when a batch was full (more is waiting), else after `every` seconds. Any
number may run: each consumer's batch and each due job is taken by one of them."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from engage.engine.analytics import consumers, periodic

log = logging.getLogger(__name__)

LAG_EVERY = 5.0  # seconds between readings of the consumers' lag for /metrics


def run(engine: Engine, broker_url: str, stop: threading.Event, *, every: float = 1.0) -> None:
    ready = False
    next_lag = 0.0
    while not stop.is_set():
        full = tick(engine)
        if time.monotonic() >= next_lag:
            try:
                consumers.watch_lag(engine)
            except Exception:
                log.exception("events: could not read the consumers' lag")
            next_lag = time.monotonic() + LAG_EVERY
        if not ready:
            log.info("ready (%d consumers, %d periodic jobs)", len(consumers.registry()), len(periodic.registry()))
            ready = True
        if not full:
            stop.wait(every)


def tick(engine: Engine) -> bool:
    """One pass: a batch for each consumer, then the due jobs; whether a batch was full."""
    full = False
    try:
        done = consumers.run_once(engine)
        full = done["full"]
    except Exception:  # the database is away: the next tick tries again
        log.exception("events: consuming failed; retrying")
    try:
        periodic.run_due(engine)
    except Exception:
        log.exception("events: periodic jobs failed; retrying")
    return full
