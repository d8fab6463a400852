"""The wire format of send work: one broker message carries a batch of rendered messages
for one provider and one campaign, under the batch id written on each of its messages (the id a
sender claims, engine/submits.py). Written by the dispatcher and the sweeper, read by senders."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engage.engine.broker import Broker
from engage.engine.broker.queues import send_queue
from engage.engine.providers.base import OutboundSms
from engage.engine.store.database import aware


class MalformedBatch(ValueError):
    """A send batch the sender cannot read: dead-lettered with this reason, never retried."""


@dataclass(frozen=True)
class SendBatch:
    provider_id: int
    campaign_id: int
    messages: list[OutboundSms]
    batch_id: str | None = None  # batches published before migration 0014 carry none


def new_batch_id() -> str:
    return uuid.uuid4().hex


def publish(broker: Broker, provider_id: int, campaign_id: int, messages: Iterable[OutboundSms],
            batch_id: str | None, valid_until: datetime | None = None, *, always: bool = False) -> None:
    """batch_id None: messages queued before migration 0014, which are claimed one by one.
    valid_until: the campaign run's deadline, which a provider may give the SMSC as the validity.
    always: keyword confirmations, sent even to a number that just opted out (OutboundSms.always)."""
    items = [{"id": m.id, "to": m.to, "from": m.sender, "text": m.text} for m in messages]
    if items:
        body: dict[str, Any] = {"provider_id": provider_id, "campaign_id": campaign_id, "messages": items}
        if batch_id is not None:
            body["batch"] = batch_id
        if valid_until is not None:
            body["valid_until"] = aware(valid_until).isoformat()
        if always:
            body["always"] = True
        broker.publish(send_queue(provider_id), json.dumps(body, separators=(",", ":")).encode())


def decode(body: bytes) -> SendBatch:
    try:
        data: dict[str, Any] = json.loads(body)
        batch_id, campaign_id = data.get("batch"), int(data["campaign_id"])
        valid_until = aware(datetime.fromisoformat(data["valid_until"])) if data.get("valid_until") else None
        always = data.get("always") is True
        return SendBatch(int(data["provider_id"]), campaign_id,
                         [OutboundSms(int(m["id"]), str(m["to"]), str(m["from"]), str(m["text"]), campaign_id,
                                      valid_until, always) for m in data["messages"]],
                         str(batch_id) if batch_id else None)
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedBatch(f"malformed send batch: {exc!r}") from None
