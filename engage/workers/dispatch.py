"""The dispatch worker: running campaigns' pending messages -> provider queues; and every few
seconds the sweeper, which gives lost work back (engine/sweeper.py)."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from engage.engine.broker import connect
from engage.engine.delivery.dispatch import Dispatcher
from engage.engine.delivery.sweeper import Sweeper

log = logging.getLogger(__name__)

SWEEP_EVERY = 5.0  # seconds


def run(engine: Engine, broker_url: str, stop: threading.Event, *, idle: float = 0.2) -> None:
    broker = connect(broker_url)
    dispatcher = Dispatcher(engine, broker)
    sweeper = Sweeper(engine, broker)
    next_sweep = time.monotonic() + SWEEP_EVERY
    ready = False
    try:
        while not stop.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    sweeper.sweep()
                    next_sweep = time.monotonic() + SWEEP_EVERY
                dispatched = dispatcher.run_once()
                if not ready:  # one round done: the database and every provider's queue answered
                    log.info("ready")
                    ready = True
                if dispatched == 0:
                    stop.wait(idle)
            except Exception:
                log.exception("dispatch round failed; retrying")
                stop.wait(1.0)
    finally:
        broker.close()
