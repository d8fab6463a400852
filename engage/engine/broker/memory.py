"""In-process broker (``memory://name``) with RabbitMQ's delivery semantics, for tests and one-process runs.

All MemoryBroker objects of one process opened on the same URL share one named in-process "server",
so a dispatcher thread and a sender thread can talk exactly as they would through RabbitMQ.
Nothing survives the process: durability is RabbitMQ's job.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engage.engine.broker.base import (
    Broker,
    BrokerError,
    Delivery,
    check_body,
    check_queue_name,
    dead_letter_queue,
    is_dead_letter_queue,
    normalize_headers,
    replayed_headers,
)

_registry: dict[str, _MemoryBroker] = {}
_registry_lock = threading.Lock()


def server_name(url: str) -> str:
    """``memory://`` is the unnamed server ""; ``memory://x`` is server "x"."""
    if not url.startswith("memory://"):
        raise ValueError(f"not a memory:// URL: {url!r}")
    return url[len("memory://") :].rstrip("/")


def reset(name: str | None = None) -> None:
    """Forget one named server (or all, when name is None) so the next connect starts empty.

    Brokers already connected keep the old server and are no longer reachable by URL.
    """
    with _registry_lock:
        if name is None:
            _registry.clear()
        else:
            _registry.pop(name, None)


def _broker_named(name: str) -> _MemoryBroker:
    with _registry_lock:
        return _registry.setdefault(name, _MemoryBroker())


@dataclass
class _Message:
    body: bytes
    headers: dict[str, Any]
    redelivered: bool = False


@dataclass
class _Queue:
    name: str
    ready: deque[_Message] = field(default_factory=deque)
    deleted: bool = False


@dataclass
class _Held:
    """A delivered, unsettled message; ``owner`` is the consumer holding it (None: dead_letters)."""

    queue: _Queue
    message: _Message
    owner: _Consumer | None


@dataclass(eq=False)
class _Consumer:
    queue: _Queue
    prefetch: int
    tags: set[int] = field(default_factory=set)


class _MemoryBroker:
    """Queues shared by every MemoryBroker of one name; one Condition guards and signals them all."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.queues: dict[str, _Queue] = {}

    def queue(self, name: str) -> _Queue:
        """Caller holds ``cond``."""
        q = self.queues.get(name)
        if q is None:
            q = self.queues[name] = _Queue(name)
        return q


class MemoryBroker(Broker):
    def __init__(self, url: str = "memory://") -> None:
        self._url = url
        self._server = _broker_named(server_name(url))
        self._cond = self._server.cond
        self._held: dict[int, _Held] = {}
        self._tags = itertools.count(1)
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryBroker({self._url!r})"

    # -- queues -------------------------------------------------------------------------------------

    def declare(self, queue: str) -> None:
        check_queue_name(queue)
        with self._cond:
            self._check_open()
            self._declare(queue)

    def _declare(self, queue: str) -> _Queue:
        q = self._server.queue(queue)
        if not is_dead_letter_queue(queue):
            self._server.queue(dead_letter_queue(queue))
        return q

    def depth(self, queue: str) -> int:
        check_queue_name(queue)
        with self._cond:
            self._check_open()
            q = self._server.queues.get(queue)
            return len(q.ready) if q else 0

    def purge(self, queue: str) -> int:
        check_queue_name(queue)
        with self._cond:
            self._check_open()
            q = self._server.queues.get(queue)
            if q is None:
                return 0
            count = len(q.ready)
            q.ready.clear()
            return count

    def delete(self, queue: str) -> None:
        check_queue_name(queue)
        with self._cond:
            self._check_open()
            names = [queue] if is_dead_letter_queue(queue) else [queue, dead_letter_queue(queue)]
            for name in names:
                q = self._server.queues.pop(name, None)
                if q is not None:
                    q.deleted = True
            self._cond.notify_all()

    # -- messages -----------------------------------------------------------------------------------

    def publish(self, queue: str, body: bytes, headers: dict[str, Any] | None = None) -> None:
        check_queue_name(queue)
        message = _Message(check_body(body), normalize_headers(headers))
        with self._cond:
            self._check_open()
            self._declare(queue).ready.append(message)
            self._cond.notify_all()

    def consume(self, queue: str, prefetch: int = 8, idle_timeout: float = 0.5) -> Iterator[Delivery | None]:
        check_queue_name(queue)
        if prefetch < 1:
            raise ValueError(f"prefetch must be at least 1, got {prefetch}")
        if idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be positive, got {idle_timeout}")
        return self._consume(queue, prefetch, idle_timeout)

    def _consume(self, queue: str, prefetch: int, idle_timeout: float) -> Iterator[Delivery | None]:
        with self._cond:
            self._check_open()
            consumer = _Consumer(self._declare(queue), prefetch)
        try:
            while True:
                yield self._next(consumer, idle_timeout)
        finally:
            with self._cond:
                self._return_held([t for t in consumer.tags if t in self._held])

    def _next(self, consumer: _Consumer, idle_timeout: float) -> Delivery | None:
        deadline = time.monotonic() + idle_timeout
        with self._cond:
            while True:
                self._check_open()
                if consumer.queue.deleted:
                    raise BrokerError(f"queue {consumer.queue.name!r} was deleted while being consumed")
                if consumer.queue.ready and len(consumer.tags) < consumer.prefetch:
                    return self._deliver(consumer.queue, consumer.queue.ready.popleft(), consumer)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def _deliver(self, queue: _Queue, message: _Message, owner: _Consumer | None) -> Delivery:
        """Caller holds ``cond``."""
        tag = next(self._tags)
        self._held[tag] = _Held(queue, message, owner)
        if owner is not None:
            owner.tags.add(tag)
        return Delivery(
            body=message.body,
            headers=copy.deepcopy(message.headers),
            redelivered=message.redelivered,
            queue=queue.name,
            _settler=self,
            _tag=tag,
        )

    def dead_letters(self, queue: str, limit: int = 100) -> list[Delivery]:
        check_queue_name(queue)
        with self._cond:
            self._check_open()
            dlq = self._server.queues.get(dead_letter_queue(queue))
            out: list[Delivery] = []
            while dlq is not None and dlq.ready and len(out) < limit:
                out.append(self._deliver(dlq, dlq.ready.popleft(), None))
            return out

    def replay_dead_letters(self, queue: str, limit: int | None = None) -> int:
        check_queue_name(queue)
        with self._cond:
            self._check_open()
            dlq = self._server.queues.get(dead_letter_queue(queue))
            if dlq is None:
                return 0
            count = len(dlq.ready) if limit is None else min(limit, len(dlq.ready))
            target = self._declare(queue)
            for _ in range(count):
                message = dlq.ready.popleft()
                target.ready.append(_Message(message.body, replayed_headers(message.headers)))
            self._cond.notify_all()
            return count

    # -- settling (the Settler protocol used by Delivery) -------------------------------------------

    def ack(self, tag: int) -> None:
        with self._cond:
            self._take(tag)
            self._cond.notify_all()  # a consumer waiting on its prefetch window may proceed

    def requeue(self, tag: int) -> None:
        with self._cond:
            self._held[tag] = self._take(tag)
            self._return_held([tag])

    def _take(self, tag: int) -> _Held:
        self._check_open()
        held = self._held.pop(tag, None)
        if held is None:
            raise BrokerError("delivery is no longer held: its consumer ended and it went back to the queue")
        if held.owner is not None:
            held.owner.tags.discard(tag)
        return held

    def _return_held(self, tags: list[int]) -> None:
        """Put held messages back at the head of their queues, earliest delivery first. Holds ``cond``."""
        for tag in sorted(tags, reverse=True):
            held = self._held.pop(tag)
            if held.owner is not None:
                held.owner.tags.discard(tag)
            if not held.queue.deleted:
                held.message.redelivered = True
                held.queue.ready.appendleft(held.message)
        self._cond.notify_all()

    # -- lifecycle ----------------------------------------------------------------------------------

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._return_held(list(self._held))
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise BrokerError(f"{self!r} is closed")
