"""Looking at and replaying dead letters: broker messages a consumer could not handle, parked
with the reason in `<queue>.dlq`. Previews are for people, so they hide secrets and mask phone numbers."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from engage.engine.broker import ORIGIN_HEADER, REASON_HEADER, Broker, Delivery, dead_letter_queue
from engage.engine.broker.queues import loyalty_usage_queue, receipts_queue, send_queue
from engage.engine.phones import mask
from engage.engine.store.schema import Provider

PREVIEW_CHARS = 300
LIST_ITEMS = 3  # a batch of 500 messages is previewed by its first few
SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "authorization")
PHONE_KEYS = {"to", "msisdn", "source", "destination", "source_addr", "destination_addr"}


def known_queues(conn: Connection) -> list[str]:
    """Every queue engage consumes: receipts, the send queue of each provider in the database, and
    the loyalty worker's usage batches."""
    ids = conn.execute(select(Provider.id).order_by(Provider.id)).scalars().all()
    return [receipts_queue(), *(send_queue(i) for i in ids), loyalty_usage_queue()]


def park(broker: Broker, queue: str, body: bytes, reason: str) -> None:
    """A dead letter made from part of a delivery: the one item a consumer could not handle, parked
    with its reason as a rejected delivery would be, while the rest of its delivery went on."""
    broker.publish(dead_letter_queue(queue), body, {REASON_HEADER: reason, ORIGIN_HEADER: queue})


def counts(broker: Broker, queues: list[str]) -> list[dict[str, Any]]:
    """The queues that hold dead letters, with how many each."""
    out = []
    for queue in queues:
        n = broker.depth(dead_letter_queue(queue))
        if n:
            out.append({"queue": queue, "dead_letters": n})
    return out


def peek(broker: Broker, queue: str, limit: int = 20) -> list[dict[str, Any]]:
    """Up to ``limit`` dead letters of ``queue``, described; all of them stay in the dead-letter queue."""
    held = broker.dead_letters(queue, limit)
    try:
        return [describe(d) for d in held]
    finally:
        for delivery in held:
            if not delivery.settled:
                delivery.requeue()


def describe(delivery: Delivery) -> dict[str, Any]:
    headers = scrub(delivery.headers)
    return {"reason": headers.pop(REASON_HEADER, None), "queue": headers.pop(ORIGIN_HEADER, delivery.queue),
            "headers": headers, "bytes": len(delivery.body), "preview": preview(delivery.body)}


def preview(body: bytes, limit: int = PREVIEW_CHARS) -> str:
    """The start of a body: JSON scrubbed and shortened, anything else as text."""
    try:
        text = json.dumps(scrub(json.loads(body)), ensure_ascii=False, default=str)
    except ValueError:
        text = body.decode("utf-8", errors="replace")
        if any(word in text.lower() for word in SECRET_WORDS):
            return f"<{len(body)} bytes, not JSON, withheld: it mentions a secret>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def scrub(value: Any, key: str = "") -> Any:
    """Secret-named values become ***, phone numbers are masked, long lists keep their first items."""
    lowered = key.lower()
    if lowered and any(word in lowered for word in SECRET_WORDS):
        return "***"
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        items = [scrub(v, key) for v in value[:LIST_ITEMS]]
        if len(value) > LIST_ITEMS:
            items.append(f"... {len(value) - LIST_ITEMS} more")
        return items
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if lowered in PHONE_KEYS and isinstance(value, str):
        return mask(value)
    return value
