"""The receipts worker: receipt and MO batches from the broker -> stored, matched, settled."""

from __future__ import annotations

import json
import logging
import threading

from sqlalchemy import Engine

from engage.engine import metrics, receipts
from engage.engine.broker import BrokerError, Delivery
from engage.engine.broker.consuming import consume_forever
from engage.engine.queues import receipts_queue

log = logging.getLogger(__name__)


def run(engine: Engine, broker_url: str, stop: threading.Event) -> None:
    for _broker, delivery in consume_forever(broker_url, receipts_queue(), stop, prefetch=16, idle_timeout=0.2):
        if delivery is None:
            try:
                receipts.match_pending(engine)  # late submits may have made old receipts matchable
            except Exception:
                log.exception("matching receipts failed; retrying")
                stop.wait(1.0)
            if stop.is_set():
                break
            continue
        try:
            _handle(engine, delivery, stop)
        except BrokerError as exc:  # settling on a lost connection: RabbitMQ delivers it again
            log.warning("could not settle a receipt batch (%s); it will be delivered again", exc)


def _handle(engine: Engine, delivery: Delivery, stop: threading.Event) -> None:
    try:
        batch = json.loads(delivery.body)
        provider_id = int(batch["provider_id"])
        items, inbound = batch.get("receipts", []), batch.get("inbound", [])
    except (ValueError, KeyError, TypeError) as exc:
        delivery.reject(f"malformed receipt batch: {exc}")
        metrics.dead_lettered(delivery.queue)
        return
    try:
        receipts.store(engine, provider_id, items, inbound)
    except Exception:
        log.exception("could not store a receipt batch; returning it to the queue")
        delivery.requeue()
        stop.wait(1.0)
        return
    delivery.ack()
    try:
        receipts.match_pending(engine)
    except Exception:
        log.exception("matching receipts failed; the next round retries")
