"""The dispatch worker: running campaigns' pending messages -> provider queues."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from engage.engine.broker import connect
from engage.engine.dispatch import Dispatcher

log = logging.getLogger(__name__)


def run(engine: Engine, broker_url: str, stop: threading.Event, *, idle: float = 0.2) -> None:
    broker = connect(broker_url)
    dispatcher = Dispatcher(engine, broker)
    try:
        while not stop.is_set():
            try:
                if dispatcher.run_once() == 0:
                    stop.wait(idle)
            except Exception:
                log.exception("dispatch round failed; retrying")
                stop.wait(1.0)
    finally:
        broker.close()
