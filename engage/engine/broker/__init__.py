"""Work queues between processes: one interface, a RabbitMQ adapter and an in-process one.

The URL picks the adapter, so the same code runs against RabbitMQ in production and ``memory://``
in tests and single-process deployments.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from engage.engine.broker.base import (
    DLQ_SUFFIX,
    ORIGIN_HEADER,
    REASON_HEADER,
    REPLAYS_HEADER,
    Broker,
    BrokerError,
    Delivery,
    dead_letter_queue,
)

__all__ = [
    "DLQ_SUFFIX",
    "ORIGIN_HEADER",
    "REASON_HEADER",
    "REPLAYS_HEADER",
    "Broker",
    "BrokerError",
    "Delivery",
    "connect",
    "dead_letter_queue",
]


def connect(url: str) -> Broker:
    """Open a Broker for this thread. ``memory://[name]`` or ``amqp[s]://...``.

    RabbitMQ connects eagerly so a wrong URL fails at startup, with the password masked.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from engage.engine.broker.memory import MemoryBroker

        return MemoryBroker(url)
    if scheme in ("amqp", "amqps"):
        from engage.engine.broker.rabbitmq import RabbitMqBroker

        return RabbitMqBroker(url)
    raise ValueError(f"unsupported broker URL scheme {scheme!r}: expected memory://, amqp:// or amqps://")
