"""The wire format of send work: one broker message carries a batch of rendered messages
for one provider and one campaign. Written by the dispatcher and the sweeper, read by senders."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engage.engine.broker import Broker
from engage.engine.providers.base import OutboundSms
from engage.engine.queues import send_queue


class MalformedBatch(ValueError):
    """A send batch the sender cannot read: dead-lettered with this reason, never retried."""


@dataclass(frozen=True)
class SendBatch:
    provider_id: int
    campaign_id: int
    messages: list[OutboundSms]


def publish(broker: Broker, provider_id: int, campaign_id: int, messages: Iterable[OutboundSms]) -> None:
    items = [{"id": m.id, "to": m.to, "from": m.sender, "text": m.text} for m in messages]
    if items:
        body = {"provider_id": provider_id, "campaign_id": campaign_id, "messages": items}
        broker.publish(send_queue(provider_id), json.dumps(body, separators=(",", ":")).encode())


def decode(body: bytes) -> SendBatch:
    try:
        data: dict[str, Any] = json.loads(body)
        return SendBatch(int(data["provider_id"]), int(data["campaign_id"]),
                         [OutboundSms(int(m["id"]), str(m["to"]), str(m["from"]), str(m["text"]))
                          for m in data["messages"]])
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedBatch(f"malformed send batch: {exc!r}") from None
