"""Publishing to RabbitMQ from an asyncio loop, many messages awaiting their confirms at once.

The SMPP receiver answers a deliver_sm only once RabbitMQ has confirmed the receipt, and the SMSC
sends no more than its window until then. Through a blocking connection on a thread of its own,
each batch waited for the one before it to be confirmed, and two thread hand-offs besides: at a
million messages receipts fell 300,000 behind the submits. Here every hand-over is published at
once and settled when its own confirm comes back, on the loop that received it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pika
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.spec import Basic

from engage.engine.broker.base import BrokerError
from engage.engine.broker.rabbitmq import mask_url, parameters

log = logging.getLogger(__name__)
CONFIRM_TIMEOUT_S = 30.0  # a broker in a resource alarm stops confirming: fail, and the SMSC retries


class ConfirmedPublisher:
    """One connection and one confirm-mode channel, opened on first use and again after a loss."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._params = parameters(url)
        self._channel: Any = None
        self._connection: AsyncioConnection | None = None
        self._opening: asyncio.Future[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_tag = 0
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._returned: set[int] = set()

    async def publish(self, queue: str, body: bytes) -> None:
        """Return once RabbitMQ has the message on disk; raise BrokerError if it may not have."""
        channel = await self._open_channel()
        self._next_tag += 1
        tag = self._next_tag
        confirmed = asyncio.get_running_loop().create_future()
        self._waiting[tag] = confirmed
        # the tag rides along so that a message returned as unroutable is known when its ack comes
        props = pika.BasicProperties(delivery_mode=2, message_id=str(tag))
        try:
            channel.basic_publish("", queue, body, props, mandatory=True)
        except Exception as exc:
            self._waiting.pop(tag, None)
            raise BrokerError(f"could not publish to {queue!r}: {exc!r}") from exc
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_TIMEOUT_S)
        except TimeoutError:
            self._waiting.pop(tag, None)
            raise BrokerError(f"RabbitMQ did not confirm within {CONFIRM_TIMEOUT_S:.0f}s") from None

    def close(self) -> None:
        """What still awaits a confirm fails now: the closing connection's callbacks no longer count."""
        connection, self._connection = self._connection, None
        self._lost(BrokerError("publisher closed"))
        if connection is not None and not (connection.is_closing or connection.is_closed):
            connection.close()

    async def _open_channel(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a connection belongs to the loop that opened it
            self._loop, self._channel, self._connection, self._opening = loop, None, None, None
        if self._channel is not None and self._channel.is_open:
            return self._channel
        if self._opening is None or self._opening.done():
            self._opening = asyncio.get_running_loop().create_future()
            self._connect(self._opening)
        return await asyncio.shield(self._opening)

    def _connect(self, opened: asyncio.Future[Any]) -> None:
        self.close()  # a channel the broker closed leaves its connection open

        def failed(exc: BaseException) -> None:
            if not opened.done():
                opened.set_exception(BrokerError(f"cannot reach RabbitMQ at {mask_url(self._url)}: {exc!r}"))

        def on_channel(channel: Any) -> None:
            channel.add_on_return_callback(self._on_return)
            channel.add_on_close_callback(lambda ch, reason: self._lost(reason) if ch is self._channel else None)
            channel.confirm_delivery(self._on_confirm, callback=lambda _frame: ready(channel))

        def ready(channel: Any) -> None:
            self._channel, self._next_tag = channel, 0
            if not opened.done():
                opened.set_result(channel)

        def on_open(connection: AsyncioConnection) -> None:
            connection.channel(on_open_callback=on_channel)

        def on_close(connection: AsyncioConnection, reason: BaseException) -> None:
            failed(reason)
            if connection is self._connection:  # not one this publisher closed, or replaced, itself
                self._lost(reason)

        self._connection = AsyncioConnection(
            self._params, on_open_callback=on_open, on_open_error_callback=lambda _c, exc: failed(exc),
            on_close_callback=on_close, custom_ioloop=asyncio.get_running_loop())

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tags = [t for t in self._waiting if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        acked = isinstance(method, Basic.Ack)
        for tag in tags:
            waiting = self._waiting.pop(tag, None)
            returned = tag in self._returned
            self._returned.discard(tag)
            if waiting is None or waiting.done():
                continue
            if acked and not returned:
                waiting.set_result(None)
            else:
                waiting.set_exception(BrokerError("RabbitMQ did not take the message"
                                                  + (" (no such queue)" if returned else " (nack)")))

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        log.error("RabbitMQ returned a message as unroutable: %s", method.reply_text)
        if properties.message_id and properties.message_id.isdigit():
            self._returned.add(int(properties.message_id))

    def _lost(self, reason: BaseException) -> None:
        """Whatever awaits a confirm may or may not be stored: its senders are told to try again."""
        self._channel = None
        waiting, self._waiting = self._waiting, {}
        self._returned.clear()
        for future in waiting.values():
            if not future.done():
                future.set_exception(BrokerError(f"connection to RabbitMQ lost awaiting a confirm: {reason!r}"))
