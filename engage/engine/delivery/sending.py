"""The sending loop of one provider: broker batches in, provider submits out, each outcome
recorded in the database as it comes (engine/delivery/recorder.py), and the batch acknowledged
once all of its are (at-least-once).

Each message is claimed in the database before it is sent, so a batch delivered twice (a
redelivery after a crash, a sweeper re-publish) sends only what nobody has claimed yet."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from concurrent.futures import Future

from engage import config
from engage.engine import metrics
from engage.engine.asyncloop import LoopThread
from engage.engine.broker import BrokerError, Delivery
from engage.engine.broker.consuming import consume_forever
from engage.engine.broker.queues import send_queue
from engage.engine.delivery import opt_outs
from engage.engine.delivery.batches import MalformedBatch, decode
from engage.engine.delivery.recorder import OutcomeRecorder
from engage.engine.delivery.submits import claim
from engage.engine.providers.base import OutboundSms, ProviderConnection, SendOutcome

log = logging.getLogger(__name__)

DOWN_PAUSE = 1.0  # seconds between looks at a provider that is down, batches left in the queue


class _Recording:
    """One batch's outcomes on their way to the database: how many could not be recorded."""

    __slots__ = ("campaign_id", "recorder", "unrecorded")

    def __init__(self, recorder: OutcomeRecorder, campaign_id: int) -> None:
        self.recorder, self.campaign_id, self.unrecorded = recorder, campaign_id, 0

    def settle(self, outcome: SendOutcome) -> asyncio.Future[bool]:
        """A future, not a coroutine: SendPool goes on sending while it is written (see send_pool)."""
        written = self.recorder.put(self.campaign_id, outcome)
        written.add_done_callback(self._count)
        return written

    def _count(self, written: asyncio.Future[bool]) -> None:
        if written.cancelled() or written.exception() is not None or not written.result():
            self.unrecorded += 1


async def _send_all(provider: ProviderConnection, batch: list[OutboundSms], recording: _Recording) -> None:
    await provider.send_batch(batch, recording.settle)


class ProviderSendLoop:
    def __init__(self, engine, broker_url: str, provider: ProviderConnection, loop: LoopThread,  # noqa: ANN001
                 stop: threading.Event, *, prefetch: int = 4):
        self.engine = engine
        self.broker_url = broker_url
        self.provider = provider
        self.loop = loop
        self.stop = stop
        self.prefetch = prefetch
        self.lease = config.load().send_lease  # how long the sweeper leaves a claimed batch alone
        self.opted_out = opt_outs.for_engine(engine)
        provider.hold = self.opted_out.hold

    def run(self) -> None:
        self.recorder = OutcomeRecorder(self.engine, self.provider.provider_id, self.stop, give_up_after=self.lease)
        try:
            self._run()
        finally:
            self.recorder.close()

    def _run(self) -> None:
        queue = send_queue(self.provider.provider_id)
        in_flight: list[tuple[Delivery, _Recording, Future]] = []
        # in_flight outlives a lost broker connection: what was sent is still recorded
        for _broker, delivery in consume_forever(self.broker_url, queue, self.stop, prefetch=self.prefetch,
                                                 idle_timeout=0.02):
            self.opted_out.refresh_if_due()
            if delivery is not None and not self._can_send():
                # down: leave the batch queued, where the sweeper can move it to another provider
                self.stop.wait(DOWN_PAUSE)
                _settle(delivery.requeue)
                delivery = None
            if delivery is not None:
                try:
                    started = self._start(delivery)
                except Exception:  # the database is unreachable: give the batch back, try later
                    log.exception("provider %s: could not claim a batch; returning it", self.provider.name)
                    _settle(delivery.requeue)
                    self.stop.wait(1.0)
                    continue
                if started is not None:
                    in_flight.append((delivery, *started))
                elif not delivery.settled:  # nothing left to send in it
                    _settle(delivery.ack)
            in_flight = self._finish(in_flight, block=len(in_flight) >= self.prefetch)
            if self.stop.is_set() and not in_flight:
                break
        # stopping while the broker was away: still record what was sent
        concurrent.futures.wait([future for *_, future in in_flight], timeout=60)
        self._finish(in_flight, block=False)

    def _can_send(self) -> bool:
        try:
            return bool(self.provider.status().get("healthy", True))
        except Exception:  # a status that cannot be read is no reason to stop sending
            return True

    def _start(self, delivery: Delivery) -> tuple[_Recording, Future] | None:
        try:
            batch = decode(delivery.body)
        except MalformedBatch as exc:
            delivery.reject(str(exc))
            metrics.dead_lettered(delivery.queue)
            return None
        mine = claim(self.engine, self.provider.provider_id, [m.id for m in batch.messages], batch.batch_id)
        sms = [m for m in batch.messages if m.id in mine]
        if not sms:
            return None
        recording = _Recording(self.recorder, batch.campaign_id)
        return recording, self.loop.submit(_send_all(self.provider, sms, recording))

    def _finish(self, in_flight: list, *, block: bool) -> list:
        remaining = []
        for i, (delivery, recording, future) in enumerate(in_flight):
            if block and i == 0:
                # bounded, so the broker connection keeps answering heartbeats while we wait
                concurrent.futures.wait([future], timeout=1.0)
            if not future.done():
                remaining.append((delivery, recording, future))
                continue
            try:
                future.result()
            except Exception:  # a provider bug: the claims stay, the sweeper re-queues them after the lease
                log.exception("provider %s: a batch failed to send", self.provider.name)
                _settle(delivery.requeue)
                continue
            if recording.unrecorded:  # the claims stay; the sweeper re-queues what is still queued after the lease
                _settle(delivery.requeue)
            else:
                _settle(delivery.ack)
        return remaining


def _settle(action) -> None:  # noqa: ANN001
    """A delivery from a connection that is gone cannot be settled; RabbitMQ delivers it again."""
    try:
        action()
    except BrokerError as exc:
        log.warning("could not settle a send batch (%s); it will be delivered again", exc)
