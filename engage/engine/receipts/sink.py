"""Receipts and MO messages from providers go to the broker in batches; the provider
is acknowledged only once the broker confirmed, so a crash never loses one.

With RabbitMQ each hand-over is published from the provider's own event loop, its confirm awaited
while others are in flight (broker.confirmed_publisher). Another broker (the in-process one) is
called from a thread of the sink's own, which takes whatever has been handed over meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engage.engine.broker import BrokerError, connect
from engage.engine.broker.confirmed_publisher import ConfirmedPublisher
from engage.engine.broker.queues import receipts_queue
from engage.engine.providers.base import InboundSms
from engage.engine.smpp.receipts_text import DeliveryReport

log = logging.getLogger(__name__)


@dataclass
class _Item:
    """What one provider handed over at once: a batch of deliveries, one future to settle."""
    provider_id: int
    receipts: list[DeliveryReport]
    inbound: list[InboundSms]
    done: asyncio.Future
    loop: asyncio.AbstractEventLoop

    @property
    def size(self) -> int:
        return len(self.receipts) + len(self.inbound)


class BrokerDeliverySink:
    def __init__(self, broker_url: str, *, max_batch: int = 1000):
        self.broker_url = broker_url
        self.max_batch = max_batch
        self._queue: queue.Queue[_Item | None] = queue.Queue()  # to the thread, when there is one
        self._publisher: ConfirmedPublisher | None = None
        self._publisher_loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        if urlsplit(broker_url).scheme.lower() in ("amqp", "amqps"):
            declaring = connect(broker_url)  # here, so that a wrong URL fails at start-up
            try:
                declaring.declare(receipts_queue())
            finally:
                declaring.close()
            self._publisher = ConfirmedPublisher(broker_url)
        else:
            self._thread = threading.Thread(target=self._run, name="engage-delivery-sink", daemon=True)
            self._thread.start()

    async def receipt(self, provider_id: int, receipt: DeliveryReport) -> None:
        await self.hand_over(provider_id, [receipt], [])

    async def inbound(self, provider_id: int, sms: InboundSms) -> None:
        await self.hand_over(provider_id, [], [sms])

    async def hand_over(self, provider_id: int, receipts: list[DeliveryReport], inbound: list[InboundSms]) -> None:
        """Return once the broker has confirmed them all (raise if it could not take them): one
        broker message for the lot, not one per receipt."""
        if not receipts and not inbound:
            return
        loop = asyncio.get_running_loop()
        if self._publisher is not None:
            self._publisher_loop = loop
            body = _body(provider_id, receipts, inbound)
            try:
                await self._publisher.publish(receipts_queue(), body)
            except BrokerError as exc:  # the provider is told "try again later", never that it was stored
                log.error("could not hand %d receipts to the broker: %s", len(receipts) + len(inbound), exc)
                raise
            return
        done = loop.create_future()
        self._queue.put(_Item(provider_id, receipts, inbound, done, loop))
        await done

    def _run(self) -> None:
        broker = connect(self.broker_url)
        broker.declare(receipts_queue())
        while True:
            first = self._queue.get()
            if first is None:
                break
            items, size = [first], first.size
            # natural batching: take what is waiting now, never wait for more. The SMSC's window
            # of unacknowledged deliver_sm is full until this batch is confirmed, so lingering
            # would only leave the pipe idle.
            while size < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                items.append(nxt)
                size += nxt.size
            self._publish(broker, items)
        broker.close()

    def _publish(self, broker, items: list[_Item]) -> None:  # noqa: ANN001
        grouped: dict[int, tuple[list[DeliveryReport], list[InboundSms]]] = defaultdict(lambda: ([], []))
        for item in items:
            grouped[item.provider_id][0].extend(item.receipts)
            grouped[item.provider_id][1].extend(item.inbound)
        error: Exception | None = None
        try:
            for provider_id, (receipts, inbound) in grouped.items():
                broker.publish(receipts_queue(), _body(provider_id, receipts, inbound))
        except Exception as exc:  # the provider is told "try again later", never that it was stored
            log.error("could not hand %d receipts to the broker: %s", sum(item.size for item in items), exc)
            error = exc
        for item in items:
            item.loop.call_soon_threadsafe(_settle, item.done, error)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
        publisher, loop = self._publisher, self._publisher_loop
        if publisher is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(publisher.close)


def _body(provider_id: int, receipts: list[DeliveryReport], inbound: list[InboundSms]) -> bytes:
    return json.dumps({"provider_id": provider_id, "receipts": [_receipt_payload(r) for r in receipts],
                       "inbound": [{"source": sms.source, "destination": sms.destination, "text": sms.text}
                                   for sms in inbound]}).encode()


def _receipt_payload(receipt: DeliveryReport) -> dict[str, Any]:
    payload = {"id": receipt.message_id, "stat": receipt.stat, "err": receipt.err,
               "done_at": receipt.done_at.isoformat() if receipt.done_at else None}
    if receipt.ours is not None:
        payload["ours"] = receipt.ours
    return payload


def _settle(future: asyncio.Future, error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
