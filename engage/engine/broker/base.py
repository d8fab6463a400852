"""The broker contract that both adapters honour.

The database is the truth about messages; a broker only carries batches of work between processes.
Delivery is at-least-once: anything not acked (consumer ended, process died, connection lost) comes
back, so consumers must be idempotent against the database.

A Broker object belongs to one thread (pika's BlockingConnection is not thread-safe); each thread
calls ``connect(url)`` for its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

DLQ_SUFFIX = ".dlq"
REASON_HEADER = "x-engage-reason"
ORIGIN_HEADER = "x-engage-queue"
REPLAYS_HEADER = "x-engage-replays"

_MAX_QUEUE_NAME = 255  # AMQP short string
_INT64 = (-(2**63), 2**63 - 1)


class BrokerError(Exception):
    """Raised for anything the broker could not do; callers retry or fail the batch, never guess."""


def dead_letter_queue(queue: str) -> str:
    """Name of the queue that holds ``queue``'s rejected messages."""
    return queue + DLQ_SUFFIX


def is_dead_letter_queue(queue: str) -> bool:
    """Dead-letter queues are declared plain: they have no dead-letter queue of their own."""
    return queue.endswith(DLQ_SUFFIX)


def check_queue_name(queue: str) -> str:
    """Refuse names RabbitMQ would refuse, so the memory adapter fails the same way."""
    if not isinstance(queue, str) or not queue:
        raise ValueError(f"queue name must be a non-empty string, got {queue!r}")
    if queue.startswith("amq."):
        raise ValueError(f"queue name {queue!r} uses the reserved 'amq.' prefix")
    limit = _MAX_QUEUE_NAME if is_dead_letter_queue(queue) else _MAX_QUEUE_NAME - len(DLQ_SUFFIX)
    if len(queue.encode()) > limit:
        raise ValueError(f"queue name {queue[:40]!r}... is longer than {limit} bytes")
    return queue


def check_body(body: Any) -> bytes:
    """Bodies are opaque bytes; refusing str catches callers that forgot to encode their JSON."""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"message body must be bytes, got {type(body).__name__}")


def normalize_headers(headers: dict[str, Any] | None) -> dict[str, Any]:
    """Copy headers, accepting only types that survive an AMQP round trip unchanged.

    pika cannot encode floats and turns some types into others, so both adapters refuse anything
    outside str/bytes/int/bool/None and lists/dicts of them: a header that works on memory:// then
    works on RabbitMQ.
    """
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise TypeError(f"headers must be a dict, got {type(headers).__name__}")
    return {_check_key(k): _normalize_value(k, v) for k, v in headers.items()}


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key.encode()) > 255:
        raise TypeError(f"header names must be non-empty str of at most 255 bytes, got {key!r}")
    return key


def _normalize_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise TypeError(f"header {key!r}: integer {value} does not fit in 64 bits")
        return int(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list | tuple):
        return [_normalize_value(key, v) for v in value]
    if isinstance(value, dict):
        return {_check_key(k): _normalize_value(key, v) for k, v in value.items()}
    raise TypeError(
        f"header {key!r}: {type(value).__name__} does not survive AMQP; use str, bytes, int, bool, "
        "None, or lists/dicts of them"
    )


def _survives(key: str, value: Any) -> bool:
    """Headers set by other clients or by RabbitMQ (x-death timestamps) may not pass normalize_headers;
    a reject must not fail on them, since rejecting is how a poison message gets out of the way."""
    try:
        _normalize_value(key, value)
    except TypeError:
        return False
    return True


class Settler(Protocol):
    """What a Delivery needs from the adapter that produced it."""

    def ack(self, tag: int) -> None: ...

    def requeue(self, tag: int) -> None: ...

    def publish(self, queue: str, body: bytes, headers: dict[str, Any] | None = None) -> None: ...


@dataclass
class Delivery:
    """One broker message handed to a consumer; it must be settled exactly once.

    Settle from the thread that consumes: the ack travels on the consumer's channel.
    """

    body: bytes
    headers: dict[str, Any]
    redelivered: bool
    queue: str
    _settler: Settler = field(repr=False, compare=False, kw_only=True)
    _tag: int = field(repr=False, compare=False, kw_only=True)
    _settled: bool = field(default=False, repr=False, compare=False, kw_only=True)

    @property
    def settled(self) -> bool:
        return self._settled

    def ack(self) -> None:
        """Done with it: the broker forgets the message."""
        self._check_unsettled()
        self._settler.ack(self._tag)
        self._settled = True

    def requeue(self) -> None:
        """Give it back; it is delivered again with redelivered=True."""
        self._check_unsettled()
        self._settler.requeue(self._tag)
        self._settled = True

    def reject(self, reason: str) -> None:
        """Park it in the dead-letter queue for a human or replay tooling.

        Publish (confirmed) before ack: if we die in between the message exists twice, never zero times.
        """
        self._check_unsettled()
        if is_dead_letter_queue(self.queue):
            raise BrokerError(f"{self.queue!r} is a dead-letter queue; ack() to drop or requeue() to keep")
        headers = {k: v for k, v in self.headers.items() if _survives(k, v)}
        headers[REASON_HEADER] = str(reason)
        headers[ORIGIN_HEADER] = self.queue
        self._settler.publish(dead_letter_queue(self.queue), self.body, headers)
        self._settler.ack(self._tag)
        self._settled = True

    def _check_unsettled(self) -> None:
        if self._settled:
            raise BrokerError(f"delivery from {self.queue!r} was already settled")


def replayed_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """Headers for a dead letter going back to work: drop the verdict, count the replays.

    The count lets a consumer spot a message that keeps getting rejected.
    """
    dropped = (REASON_HEADER, ORIGIN_HEADER, "x-death", "x-first-death-", "x-last-death-")
    out = {k: v for k, v in headers.items() if not k.startswith(dropped)}
    previous = headers.get(REPLAYS_HEADER)
    out[REPLAYS_HEADER] = (previous if isinstance(previous, int) else 0) + 1
    return out


class Broker(ABC):
    """A connection to one broker, owned by one thread."""

    @abstractmethod
    def declare(self, queue: str) -> None:
        """Make sure ``queue`` and its dead-letter queue exist (durable); idempotent."""

    @abstractmethod
    def publish(self, queue: str, body: bytes, headers: dict[str, Any] | None = None) -> None:
        """Store a persistent message; returns only once the broker has confirmed it.

        Declares the queue if needed. Raises BrokerError if the broker refused it.
        """

    @abstractmethod
    def consume(self, queue: str, prefetch: int = 8, idle_timeout: float = 0.5) -> Iterator[Delivery | None]:
        """Yield deliveries, at most ``prefetch`` unsettled at once.

        Yields None after ``idle_timeout`` seconds with nothing to deliver so the caller's loop can
        check stop flags and ack finished work. Closing the generator cancels the consumer and its
        unsettled deliveries return to the queue, so keep a reference to it while deliveries are out:
        a dropped generator is closed by the garbage collector. On RabbitMQ, heartbeats are only
        answered while the caller is inside a broker call, so do not stay away much longer than the
        60 s heartbeat.
        """

    @abstractmethod
    def depth(self, queue: str) -> int:
        """Messages ready in ``queue`` (not counting delivered-but-unacked); 0 if it does not exist."""

    @abstractmethod
    def purge(self, queue: str) -> int:
        """Drop every ready message in ``queue`` (not its dead-letter queue); returns how many."""

    @abstractmethod
    def delete(self, queue: str) -> None:
        """Delete ``queue`` and its dead-letter queue, messages included; no error if absent."""

    @abstractmethod
    def dead_letters(self, queue: str, limit: int = 100) -> list[Delivery]:
        """Take up to ``limit`` messages from ``queue``'s dead-letter queue and hold them.

        For replay tooling: ack() drops one for good, requeue() puts it back in the dead-letter queue;
        anything left unsettled returns there when the broker is closed.
        """

    @abstractmethod
    def replay_dead_letters(self, queue: str, limit: int | None = None) -> int:
        """Move dead letters back to ``queue`` (each publish confirmed before its ack); returns the count.

        With no limit, replays what was there when the call began, so a consumer that rejects again
        cannot make it loop forever.
        """

    @abstractmethod
    def close(self) -> None:
        """Disconnect; unsettled deliveries return to their queues as redelivered. Idempotent."""

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
