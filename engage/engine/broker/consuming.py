"""Consuming through broker outages: a worker keeps its place in the loop while RabbitMQ
restarts, reconnecting with back-off, instead of dying with the connection.

Deliveries from the lost connection can no longer be settled; RabbitMQ delivers them again,
and the consumers are idempotent against the database (claims, receipt matching).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from engage.engine.broker import Broker, BrokerError, Delivery, connect

log = logging.getLogger(__name__)

MAX_BACKOFF = 15.0  # seconds


def consume_forever(broker_url: str, queue: str, stop: threading.Event, *, prefetch: int = 8,
                    idle_timeout: float = 0.5) -> Iterator[tuple[Broker, Delivery | None]]:
    """Yields (broker, delivery or None when idle) until `stop` is set and the caller stops asking.

    The broker is yielded too: after a reconnect it is a new one, and publishing should use it.
    """
    delay = 0.5
    while not stop.is_set():
        broker: Broker | None = None
        try:
            broker = connect(broker_url)
            broker.declare(queue)
            for delivery in broker.consume(queue, prefetch=prefetch, idle_timeout=idle_timeout):
                delay = 0.5
                yield broker, delivery
        except BrokerError as exc:
            log.warning("broker unavailable while consuming %s (%s); retrying in %.1fs", queue, exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, MAX_BACKOFF)
        finally:
            if broker is not None:
                try:
                    broker.close()
                except Exception:  # already broken; nothing to hand back
                    log.debug("error closing a lost broker", exc_info=True)
