"""The loyalty worker: usage batches from the broker scored into points (engine/loyalty/feed.py,
scoring.py), one transaction per batch, acknowledged after it commits. A batch that is not one is
dead-lettered whole with the reason; records refused inside a good batch go to the dead-letter
queue as a batch of their own. Any number may run: scoring locks each member's counters."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from engage.engine.broker import REASON_HEADER, dead_letter_queue
from engage.engine.broker.consuming import consume_forever
from engage.engine.loyalty import feed

log = logging.getLogger(__name__)

PREFETCH = 4


def run(engine: Engine, broker_url: str, stop: threading.Event) -> None:
    ready = False
    for broker, delivery in consume_forever(broker_url, feed.usage_queue(), stop, prefetch=PREFETCH):
        if not ready:
            log.info("ready")
            ready = True
        if delivery is not None:
            try:
                batch = feed.parse(delivery.body)
                report = feed.score_batch(engine, batch)
            except feed.FeedError as exc:
                log.warning("loyalty: a usage batch dead-lettered: %s", exc)
                delivery.reject(str(exc))
                continue
            except Exception:  # the database is away: the batch comes back, scored once when it can be
                log.exception("loyalty: scoring a usage batch failed; it is requeued")
                delivery.requeue()
                stop.wait(1.0)
                continue
            if batch.set_aside:
                broker.publish(dead_letter_queue(feed.usage_queue()), feed.set_aside_body(batch),
                               {REASON_HEADER: f"{len(batch.set_aside)} record(s) refused; first: "
                                                   f"{batch.set_aside[0]['error']}"[:250]})
                log.warning("loyalty: %d record(s) of a batch refused, first: %s", len(batch.set_aside),
                            batch.set_aside[0]["error"])
            delivery.ack()
            log.debug("loyalty: scored %s", report.as_dict())
        if stop.is_set():
            break
