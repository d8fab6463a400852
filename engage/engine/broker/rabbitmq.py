"""RabbitMQ adapter over pika's BlockingConnection: durable queues, persistent messages, publisher confirms.

Channels: one confirm-mode "control" channel for publishing and queue management, one per consume()
(closing it is what returns that consumer's unacked messages), one "hold" channel for dead_letters(),
and a "probe" channel for calls that may hit a missing queue (RabbitMQ answers those by closing the
channel, which must not take held messages down with it).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pika
from pika import exceptions as px
from pika.adapters.blocking_connection import BlockingChannel

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

log = logging.getLogger(__name__)

T = TypeVar("T")

HEARTBEAT_S = 60
BLOCKED_TIMEOUT_S = 30  # a broker in a resource alarm blocks publishers; fail instead of hanging
SOCKET_TIMEOUT_S = 5
RECONNECT_DELAYS_S = (0.0, 0.5, 1.5)
_NOT_FOUND = 404
# Errors after which the connection is gone and a reconnect is the only way on.
_CONNECTION_LOST = (px.AMQPConnectionError, px.ChannelWrongStateError, ConnectionError, OSError)


def mask_url(url: str) -> str:
    """The URL with its password replaced, fit for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _plain(value: Any) -> Any:
    """pika decodes 64-bit ints as its own int subclass; hand callers plain Python values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and type(value) is not int:
        return int(value)
    return value


def _delivery(queue: str, settler: _ChannelSettler, method: Any, props: Any, body: bytes) -> Delivery:
    tag, headers = method.delivery_tag, _plain(props.headers or {})
    return Delivery(body, headers, bool(method.redelivered), queue, _settler=settler, _tag=tag)


class _ChannelSettler:
    """Settles deliveries on the channel they arrived on: AMQP delivery tags are per channel."""

    def __init__(self, broker: RabbitMqBroker, channel: BlockingChannel) -> None:
        self._broker = broker
        self._channel = channel

    def ack(self, tag: int) -> None:
        self._settle(lambda: self._channel.basic_ack(tag))

    def requeue(self, tag: int) -> None:
        self._settle(lambda: self._channel.basic_nack(tag, requeue=True))

    def publish(self, queue: str, body: bytes, headers: dict[str, Any] | None = None) -> None:
        self._broker.publish(queue, body, headers)

    def _settle(self, op: Callable[[], None]) -> None:
        self._broker._check_open()
        if not self._channel.is_open:
            raise BrokerError("delivery is no longer held: its consumer ended and it went back to the queue")
        try:
            op()
        except _CONNECTION_LOST as exc:
            raise BrokerError(f"connection lost before settling; it will be redelivered: {exc!r}") from exc


def parameters(url: str) -> pika.URLParameters:
    """The URL's connection parameters, with our timeouts where the URL names none."""
    try:
        params = pika.URLParameters(url)
    except Exception as exc:
        raise BrokerError(f"bad RabbitMQ URL {mask_url(url)}: {exc}") from exc
    if "heartbeat=" not in url:
        params.heartbeat = HEARTBEAT_S
    if "blocked_connection_timeout=" not in url:
        params.blocked_connection_timeout = BLOCKED_TIMEOUT_S
    if "socket_timeout=" not in url:
        params.socket_timeout = SOCKET_TIMEOUT_S
    return params


class RabbitMqBroker(Broker):
    def __init__(self, url: str) -> None:
        self._url = url
        self._params = parameters(url)
        self._conn: pika.BlockingConnection | None = None
        self._control: BlockingChannel | None = None
        self._probe: BlockingChannel | None = None
        self._hold: BlockingChannel | None = None
        self._declared: set[str] = set()
        self._closed = False
        self._connect_once()

    def __repr__(self) -> str:
        return f"RabbitMqBroker({mask_url(self._url)!r})"

    def _connect_once(self) -> None:
        try:
            self._conn = pika.BlockingConnection(self._params)
        except px.AMQPError as exc:
            raise BrokerError(f"cannot connect to RabbitMQ at {mask_url(self._url)}: {exc!r}") from exc
        except OSError as exc:
            raise BrokerError(f"cannot connect to RabbitMQ at {mask_url(self._url)}: {exc}") from exc
        self._control = self._probe = self._hold = None

    def _reconnect(self) -> None:
        """One reconnection, with a short back-off between attempts; gives up with BrokerError."""
        self._drop()
        error: BrokerError | None = None
        for delay in RECONNECT_DELAYS_S:
            time.sleep(delay)
            try:
                self._connect_once()
                log.warning("reconnected to RabbitMQ at %s", mask_url(self._url))
                return
            except BrokerError as exc:
                error = exc
        assert error is not None
        raise error

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._control = self._probe = self._hold = None
        if conn is not None and conn.is_open:
            try:
                conn.close()
            except Exception:  # it is broken already; we only want it gone
                log.debug("error closing a broken connection", exc_info=True)

    def _connection(self) -> pika.BlockingConnection:
        self._check_open()
        if self._conn is None or not self._conn.is_open:
            self._reconnect()
        assert self._conn is not None
        return self._conn

    def _with_reconnect(self, op: Callable[[], T]) -> T:
        """Run ``op``; if the connection turns out to be dead, reconnect once and run it again.

        A retried publish may store the message twice (the first may have landed before the drop):
        at-least-once is the contract and consumers are idempotent against the database.
        """
        self._connection()
        try:
            return op()
        except _CONNECTION_LOST as exc:
            if self._closed:
                raise BrokerError(f"{self!r} is closed") from exc
            log.warning("RabbitMQ connection lost (%r); reconnecting", exc)
            self._reconnect()
        except px.AMQPError as exc:
            raise self._refused(exc) from exc
        try:
            return op()
        except _CONNECTION_LOST as exc:
            self._drop()
            raise BrokerError(f"{mask_url(self._url)} failed again after reconnecting: {exc!r}") from exc
        except px.AMQPError as exc:
            raise self._refused(exc) from exc

    def _refused(self, exc: px.AMQPError) -> BrokerError:
        """A channel-level refusal: the connection is fine, but the broker closed a channel on us."""
        for name in ("_control", "_probe", "_hold"):
            channel = getattr(self, name)
            if channel is not None and not channel.is_open:
                setattr(self, name, None)
        return BrokerError(f"RabbitMQ refused the operation: {exc!r}")

    def _control_channel(self) -> BlockingChannel:
        if self._control is None or not self._control.is_open:
            self._control = self._connection().channel()
            self._control.confirm_delivery()
        return self._control

    def _probe_channel(self) -> BlockingChannel:
        if self._probe is None or not self._probe.is_open:
            self._probe = self._connection().channel()
        return self._probe

    def _hold_channel(self) -> BlockingChannel:
        if self._hold is None or not self._hold.is_open:
            self._hold = self._connection().channel()
        return self._hold

    def _probing(self, op: Callable[[BlockingChannel], int]) -> int:
        """Run ``op`` on the probe channel; a missing queue yields 0 instead of an error."""

        def run() -> int:
            try:
                return op(self._probe_channel())
            except px.ChannelClosedByBroker as exc:
                self._probe = None
                if exc.reply_code == _NOT_FOUND:
                    return 0
                raise BrokerError(f"RabbitMQ refused: {exc.reply_text}") from exc

        return self._with_reconnect(run)

    def declare(self, queue: str) -> None:
        check_queue_name(queue)
        self._with_reconnect(lambda: self._declare(queue))

    def _declare(self, queue: str) -> None:
        if queue in self._declared:
            return
        channel = self._control_channel()
        try:
            if is_dead_letter_queue(queue):
                channel.queue_declare(queue, durable=True)
            else:
                dlq = dead_letter_queue(queue)
                channel.queue_declare(dlq, durable=True)
                args = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}
                channel.queue_declare(queue, durable=True, arguments=args)
                self._declared.add(dlq)
        except px.ChannelClosedByBroker as exc:
            self._control = None
            raise BrokerError(f"cannot declare queue {queue!r}: {exc.reply_text}") from exc
        self._declared.add(queue)

    def depth(self, queue: str) -> int:
        """Declares the queue first: engage asks only about queues it uses, and RabbitMQ answers a
        passive declare of a missing one by closing the channel, which pika logs as a warning (the
        dispatcher would log one every round on a fresh broker, before the send worker's first start)."""
        check_queue_name(queue)
        self.declare(queue)
        return self._probing(lambda ch: ch.queue_declare(queue, passive=True).method.message_count)

    def purge(self, queue: str) -> int:
        check_queue_name(queue)
        return self._probing(lambda ch: ch.queue_purge(queue).method.message_count)

    def delete(self, queue: str) -> None:
        check_queue_name(queue)
        names = [queue] if is_dead_letter_queue(queue) else [queue, dead_letter_queue(queue)]
        for name in names:
            self._declared.discard(name)
            self._probing(lambda ch, name=name: ch.queue_delete(name).method.message_count)

    def publish(self, queue: str, body: bytes, headers: dict[str, Any] | None = None) -> None:
        check_queue_name(queue)
        body = check_body(body)
        properties = pika.BasicProperties(delivery_mode=2, headers=normalize_headers(headers))

        def run() -> None:
            for attempt in (1, 2):  # the queue may have been deleted since we declared it: once more
                self._declare(queue)
                try:
                    self._control_channel().basic_publish("", queue, body, properties, mandatory=True)
                    return
                except px.UnroutableError as exc:
                    self._declared.discard(queue)
                    if attempt == 2:
                        raise BrokerError(f"message to {queue!r} was unroutable") from exc
                except px.NackError as exc:
                    raise BrokerError(f"RabbitMQ refused to store a message for {queue!r} (nack)") from exc

        self._with_reconnect(run)

    def consume(self, queue: str, prefetch: int = 8, idle_timeout: float = 0.5) -> Iterator[Delivery | None]:
        check_queue_name(queue)
        if prefetch < 1:
            raise ValueError(f"prefetch must be at least 1, got {prefetch}")
        if idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be positive, got {idle_timeout}")
        return self._consume(queue, prefetch, idle_timeout)

    def _consume(self, queue: str, prefetch: int, idle_timeout: float) -> Iterator[Delivery | None]:
        arrived: deque[tuple[Any, Any, bytes]] = deque()
        cancelled: list[str] = []

        def subscribe() -> BlockingChannel:
            self._declared.discard(queue)  # really declare: consuming a deleted queue would fail
            self._declare(queue)
            channel = self._connection().channel()
            channel.basic_qos(prefetch_count=prefetch)
            channel.add_on_cancel_callback(lambda _frame: cancelled.append(queue))
            channel.basic_consume(queue, lambda _ch, m, p, b: arrived.append((m, p, b)), auto_ack=False)
            return channel

        channel = self._with_reconnect(subscribe)
        conn = self._conn
        settler = _ChannelSettler(self, channel)
        try:
            while True:
                self._wait_for(conn, channel, arrived, cancelled, idle_timeout)
                if not arrived:
                    yield None
                    continue
                yield _delivery(queue, settler, *arrived.popleft())
        finally:
            if channel.is_open and self._conn is not None and self._conn.is_open:
                try:
                    channel.close()  # RabbitMQ requeues everything this channel had unacked
                except Exception:  # on the way out; the server requeues anyway
                    log.debug("error closing consumer channel", exc_info=True)

    def _wait_for(self, conn: Any, channel: BlockingChannel, arrived: deque, cancelled: list[str],
                  idle_timeout: float) -> None:
        """Pump the connection until a message arrives or idle_timeout passes.

        Fails rather than idling forever if this consumer's connection or channel is gone, including
        when another call on this broker already reconnected (the new connection knows nothing of it).
        """
        deadline = time.monotonic() + idle_timeout
        while not arrived:
            self._check_open()
            if cancelled:
                raise BrokerError(f"RabbitMQ cancelled the consumer on {cancelled[0]!r} (queue deleted?)")
            if conn is not self._conn or not conn.is_open or not channel.is_open:
                raise BrokerError(f"lost {mask_url(self._url)} while consuming; consume() again")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                conn.process_data_events(time_limit=remaining)
            except _CONNECTION_LOST as exc:
                self._drop()
                raise BrokerError(f"lost {mask_url(self._url)} while consuming: {exc!r}") from exc

    def dead_letters(self, queue: str, limit: int = 100) -> list[Delivery]:
        dlq = dead_letter_queue(check_queue_name(queue))
        if self.depth(dlq) == 0:  # basic_get on a missing queue would close the hold channel
            return []

        def run() -> list[Delivery]:
            channel = self._hold_channel()
            settler = _ChannelSettler(self, channel)
            out: list[Delivery] = []
            while len(out) < limit:
                method, props, body = channel.basic_get(dlq, auto_ack=False)
                if method is None:
                    break
                out.append(_delivery(dlq, settler, method, props, body))
            return out

        return self._with_reconnect(run)

    def replay_dead_letters(self, queue: str, limit: int | None = None) -> int:
        dlq = dead_letter_queue(check_queue_name(queue))
        available = self.depth(dlq)
        todo = available if limit is None else min(limit, available)
        moved = 0
        try:
            self.declare(queue)
            channel = self._control_channel()
            while moved < todo:
                method, props, body = channel.basic_get(dlq, auto_ack=False)
                if method is None:
                    break
                headers = replayed_headers(_plain(props.headers or {}))
                properties = pika.BasicProperties(delivery_mode=2, headers=headers)
                channel.basic_publish("", queue, body, properties, mandatory=True)
                channel.basic_ack(method.delivery_tag)
                moved += 1
        except (px.AMQPError, OSError) as exc:
            self._drop()
            raise BrokerError(f"replay of {dlq!r} stopped after {moved} messages: {exc!r}") from exc
        return moved

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._drop()

    def _check_open(self) -> None:
        if self._closed:
            raise BrokerError(f"{self!r} is closed")
