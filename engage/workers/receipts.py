"""The receipts worker: receipt and MO batches from the broker -> stored, matched, settled; the MOs
then handled by their keywords (engine/keywords).

Broker messages are taken as they come and written together, one transaction for up to
MAX_RECEIPTS receipts, then acknowledged together: at thousands a second the commit is
what costs, not the rows."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine

from engage.engine import dead_letters, metrics
from engage.engine.broker import Broker, BrokerError, Delivery, dead_letter_queue
from engage.engine.broker.consuming import consume_forever
from engage.engine.broker.queues import receipts_queue
from engage.engine.keywords import handling as keywords
from engage.engine.receipts import inbound_checks, matching

log = logging.getLogger(__name__)

MAX_RECEIPTS = 5000
MATCH_EVERY = 0.5  # seconds between looks at receipts that arrived before their submit
PREFETCH = 64  # broker messages held at once; each carries up to the sink's batch of receipts


def run(engine: Engine, broker_url: str, stop: threading.Event) -> None:
    held: list[tuple[Delivery, tuple[int, list[Any], list[Any]]]] = []
    next_match = 0.0
    ready = False
    for broker, delivery in consume_forever(broker_url, receipts_queue(), stop, prefetch=PREFETCH,
                                             idle_timeout=0.02):
        if not ready:  # consuming: the queue is declared and this worker subscribed to it
            log.info("ready")
            ready = True
        if delivery is not None:
            batch = _parse(delivery)
            if batch is not None:
                held.append((delivery, batch))
            if len(held) < PREFETCH and sum(len(b[1]) for _, b in held) < MAX_RECEIPTS:
                continue  # more may be waiting: take them into the same transaction
        if held:
            _write(engine, broker, held, stop)
            if any(batch[2] for _, batch in held):
                _handle_keywords(engine)
            held = []
        # also under a steady stream: late submits may have made earlier receipts matchable
        if time.monotonic() >= next_match:
            try:
                matching.match_pending(engine)
            except Exception:
                log.exception("matching receipts failed; retrying")
            _handle_keywords(engine)  # also what an earlier try left, or another worker stored
            next_match = time.monotonic() + MATCH_EVERY
        if stop.is_set():
            break


def _handle_keywords(engine: Engine) -> None:
    try:
        while keywords.handle_pending(engine) == keywords.BATCH:
            pass
    except Exception:  # stored, so not lost: the next look tries again
        log.exception("handling inbound messages failed; retrying")


def _parse(delivery: Delivery) -> tuple[int, list[Any], list[Any]] | None:
    """The batch, or None once it is dead-lettered with the reason: a batch that is not one, or
    names a provider id no column holds, is parked whole at once rather than stored item by item."""
    try:
        batch = json.loads(delivery.body)
        provider_id, items, inbound = batch["provider_id"], batch.get("receipts", []), batch.get("inbound", [])
        problem = inbound_checks.provider_problem(provider_id)
        if problem is None and not (type(items) is list and type(inbound) is list):
            problem = "receipts and inbound are not lists"
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = str(exc)
    if problem is None:
        return provider_id, items, inbound
    _settle(delivery.reject, f"malformed receipt batch: {problem}")
    metrics.dead_lettered(delivery.queue)
    return None


def _write(engine: Engine, broker: Broker, held: list[tuple[Delivery, tuple[int, list[Any], list[Any]]]],
           stop: threading.Event) -> None:
    """Stored, or parked in the dead-letter queue with its reason, item by item; then acknowledged.
    Only a database that is away sends the deliveries back to the queue, to be tried again."""
    try:
        unstorable = matching.store_all(engine, [batch for _, batch in held])
    except Exception:
        log.exception("could not store %d receipt batches; returning them to the queue", len(held))
        for delivery, _ in held:
            _settle(delivery.requeue)
        stop.wait(1.0)
        return
    try:
        for item in unstorable:  # parked before the deliveries are acked: never lost in between
            dead_letters.park(broker, receipts_queue(), json.dumps(item.body()).encode(), item.reason)
    except BrokerError as exc:  # what was stored is stored; the rest comes back with the deliveries
        log.warning("could not park %d unstorable receipts (%s); their batches will be delivered again",
                    len(unstorable), exc)
        for delivery, _ in held:
            _settle(delivery.requeue)
        return
    if unstorable:
        log.warning("%d receipts or messages could not be stored; parked in %s", len(unstorable),
                    dead_letter_queue(receipts_queue()))
        metrics.dead_lettered(receipts_queue(), len(unstorable))
    for delivery, _ in held:
        _settle(delivery.ack)


def _settle(action, *args: Any) -> None:  # noqa: ANN001
    """On a lost connection a delivery cannot be settled; RabbitMQ delivers it again, and
    storing a receipt twice changes nothing (repeated receipts are no-ops)."""
    try:
        action(*args)
    except BrokerError as exc:
        log.warning("could not settle a receipt batch (%s); it will be delivered again", exc)
