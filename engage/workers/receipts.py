"""The receipts worker: receipt and MO batches from the broker -> stored, matched, settled."""

from __future__ import annotations

import json
import logging
import threading

from sqlalchemy import Engine

from engage.engine import receipts
from engage.engine.broker import connect
from engage.engine.queues import receipts_queue

log = logging.getLogger(__name__)


def run(engine: Engine, broker_url: str, stop: threading.Event) -> None:
    broker = connect(broker_url)
    broker.declare(receipts_queue())
    try:
        for delivery in broker.consume(receipts_queue(), prefetch=16, idle_timeout=0.2):
            if delivery is None:
                receipts.match_pending(engine)  # late submits may have made old receipts matchable
                if stop.is_set():
                    break
                continue
            try:
                batch = json.loads(delivery.body)
                provider_id = int(batch["provider_id"])
                items, inbound = batch.get("receipts", []), batch.get("inbound", [])
            except (ValueError, KeyError, TypeError) as exc:
                delivery.reject(f"malformed receipt batch: {exc}")
                continue
            try:
                receipts.store(engine, provider_id, items, inbound)
            except Exception:
                log.exception("could not store a receipt batch; returning it to the queue")
                delivery.requeue()
                stop.wait(1.0)
                continue
            delivery.ack()
            receipts.match_pending(engine)
    finally:
        broker.close()
