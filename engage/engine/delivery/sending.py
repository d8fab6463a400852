"""The sending loop of one provider: broker batches in, provider submits out, outcomes
recorded in the database, and only then the batch acknowledged (at-least-once).

Each message is claimed in the database before it is sent, so a batch delivered twice (a
redelivery after a crash, a sweeper re-publish) sends only what nobody has claimed yet."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from concurrent.futures import Future

from engage import config
from engage.engine import metrics
from engage.engine.asyncloop import LoopThread
from engage.engine.broker import BrokerError, Delivery
from engage.engine.broker.consuming import consume_forever
from engage.engine.broker.queues import send_queue
from engage.engine.delivery.batches import MalformedBatch, decode
from engage.engine.delivery.submits import claim, record_outcomes
from engage.engine.providers.base import OutboundSms, ProviderConnection, SendOutcome
from engage.engine.store.failures import reason, transient

log = logging.getLogger(__name__)

DOWN_PAUSE = 1.0  # seconds between looks at a provider that is down, batches left in the queue
RECORD_RETRY = 1.0  # seconds between tries to record what was sent while the database is away


async def _send_all(provider: ProviderConnection, batch: list[OutboundSms]) -> list[SendOutcome]:
    return await provider.send_batch(batch)


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

    def run(self) -> None:
        queue = send_queue(self.provider.provider_id)
        in_flight: list[tuple[Delivery, int, Future]] = []
        # in_flight outlives a lost broker connection: what was sent is still recorded
        for _broker, delivery in consume_forever(self.broker_url, queue, self.stop, prefetch=self.prefetch,
                                                 idle_timeout=0.02):
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
        concurrent.futures.wait([future for _, _, future in in_flight], timeout=60)
        self._finish(in_flight, block=False)

    def _can_send(self) -> bool:
        try:
            return bool(self.provider.status().get("healthy", True))
        except Exception:  # a status that cannot be read is no reason to stop sending
            return True

    def _start(self, delivery: Delivery) -> tuple[int, Future] | None:
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
        return batch.campaign_id, self.loop.submit(_send_all(self.provider, sms))

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
            except Exception:  # a provider bug: the claims stay, the sweeper re-queues them after the lease
                log.exception("provider %s: a batch failed to send", self.provider.name)
                _settle(delivery.requeue)
                continue
            self._record(delivery, campaign_id, outcomes)
        return remaining

    def _record(self, delivery: Delivery, campaign_id: int, outcomes: list[SendOutcome]) -> None:
        if record_or_give_up(self.engine, self.provider.provider_id, campaign_id, outcomes, self.stop,
                             give_up_after=self.lease):
            _settle(delivery.ack)
        else:  # the claims stay; the sweeper re-queues what is still queued after the lease
            _settle(delivery.requeue)


def record_or_give_up(engine, provider_id: int, campaign_id: int, outcomes: list[SendOutcome],  # noqa: ANN001
                      stop: threading.Event, *, give_up_after: float) -> bool:
    """Whether what was sent is recorded. A database that is away is waited out, since unrecorded,
    the sweeper would send it all again once the claim's lease ran out; but only for give_up_after
    seconds (the lease), so that a sender never hangs on one batch, and not at all for a failure
    that trying again cannot mend."""
    deadline = time.monotonic() + give_up_after
    while True:
        try:
            record_outcomes(engine, provider_id, campaign_id, outcomes)
            return True
        except Exception as exc:
            if not transient(exc) or stop.is_set() or time.monotonic() >= deadline:
                log.exception("provider %s: could not record a batch's outcomes", provider_id)
                return False
            log.warning("provider %s: recording a batch's outcomes failed (%s); trying again",
                        provider_id, reason(exc))
            stop.wait(RECORD_RETRY)


def _settle(action) -> None:  # noqa: ANN001
    """A delivery from a connection that is gone cannot be settled; RabbitMQ delivers it again."""
    try:
        action()
    except BrokerError as exc:
        log.warning("could not settle a send batch (%s); it will be delivered again", exc)
