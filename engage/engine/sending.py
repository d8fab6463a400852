"""The sending loop of one provider: broker batches in, provider submits out, outcomes
recorded in the database, and only then the batch acknowledged (at-least-once; a batch
redelivered after a crash skips what the database already shows as submitted)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from concurrent.futures import Future

from engage.engine.asyncloop import LoopThread
from engage.engine.broker import Delivery, connect
from engage.engine.providers.base import OutboundSms, ProviderConnection, SendOutcome
from engage.engine.queues import send_queue
from engage.engine.submits import record_outcomes, still_queued

log = logging.getLogger(__name__)


async def _send_all(provider: ProviderConnection, batch: list[OutboundSms]) -> list[SendOutcome]:
    return list(await asyncio.gather(*(provider.send(sms) for sms in batch)))


class ProviderSendLoop:
    def __init__(self, engine, broker_url: str, provider: ProviderConnection, loop: LoopThread,  # noqa: ANN001
                 stop: threading.Event, *, prefetch: int = 4):
        self.engine = engine
        self.broker_url = broker_url
        self.provider = provider
        self.loop = loop
        self.stop = stop
        self.prefetch = prefetch

    def run(self) -> None:
        broker = connect(self.broker_url)
        queue = send_queue(self.provider.provider_id)
        broker.declare(queue)
        in_flight: list[tuple[Delivery, int, Future]] = []
        try:
            for delivery in broker.consume(queue, prefetch=self.prefetch, idle_timeout=0.02):
                if delivery is not None:
                    started = self._start(delivery)
                    if started is not None:
                        in_flight.append((delivery, *started))
                    elif not delivery.settled:  # nothing left to send in it
                        delivery.ack()
                in_flight = self._finish(in_flight, block=len(in_flight) >= self.prefetch)
                if self.stop.is_set() and not in_flight:
                    break
        finally:
            broker.close()

    def _start(self, delivery: Delivery) -> tuple[int, Future] | None:
        try:
            batch = json.loads(delivery.body)
            todo = still_queued(self.engine, [m["id"] for m in batch["messages"]])
            sms = [OutboundSms(m["id"], m["to"], m["from"], m["text"]) for m in batch["messages"] if m["id"] in todo]
        except (ValueError, KeyError, TypeError) as exc:
            delivery.reject(f"malformed send batch: {exc}")
            return None
        if not sms:
            return None
        return batch["campaign_id"], self.loop.submit(_send_all(self.provider, sms))

    def _finish(self, in_flight: list, *, block: bool) -> list:
        remaining = []
        for i, (delivery, campaign_id, future) in enumerate(in_flight):
            if block and i == 0:
                # bounded, so the broker connection keeps answering heartbeats while we wait
                concurrent.futures.wait([future], timeout=1.0)
            if not future.done():
                remaining.append((delivery, campaign_id, future))
                continue
            try:
                outcomes = future.result()
                record_outcomes(self.engine, self.provider.provider_id, campaign_id, outcomes)
                delivery.ack()
            except Exception:
                log.exception("provider %s: batch failed; returning it to the queue", self.provider.name)
                delivery.requeue()
        return remaining
