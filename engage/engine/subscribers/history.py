"""A subscriber's history, newest first, for support answering "why did I get this?" and "did
my STOP work?": the messages sent to their number (campaign, text, status, route, cost, times),
the delivery receipts for them, the SMS they sent back, and their opt-outs.

All of it is keyed by number, as the opt-out registry is: a subscriber deleted and imported again
keeps what their number was sent. A few set-based queries, each limited, whatever the history's size:
messages by number, their parts by message (ix_parts_message), receipts by provider id
(ix_receipts_lookup), replies by source (ix_inbound_source_at), opt-outs by number (their key).
Opt-ins are not listed: the registry forgets a number when it opts back in (the audit log keeps
who did it, not for which number)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, tuple_

from engage.engine.phones import mask_in
from engage.engine.store.schema import (
    Campaign,
    InboundMessage,
    Message,
    MessagePart,
    OptOut,
    Provider,
    Receipt,
    Subscriber,
)
from engage.engine.subscribers.outcome_words import message_words, receipt_words

LIMIT = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def history(conn: Connection, subscriber_id: int, limit: int = LIMIT, *,
            masked: bool = False) -> list[dict[str, Any]]:
    """The ``limit`` newest entries, each {"kind": message | receipt | reply | opt_out, "at": ...}
    and what that kind has; a message and a receipt say their "outcome" in words (outcome_words)
    beside the codes they came with. Empty for a subscriber that does not exist (callers check visibility).
    ``masked``: for a reader shown the number masked, who must not read it whole in a message or a
    reply that quotes it."""
    number = conn.execute(select(Subscriber.msisdn).where(Subscriber.id == subscriber_id)).scalar()
    if number is None:
        return []
    messages = _messages(conn, number, limit)
    entries = [*messages, *_receipts(conn, messages, limit), *_replies(conn, number, limit),
               *_opt_outs(conn, number)]
    for entry in entries:
        entry["at"] = aware(entry["at"])
    entries.sort(key=lambda e: (e["at"] or EPOCH, e["kind"] != "message"), reverse=True)
    entries = entries[:limit]
    if masked:
        for entry in entries:
            for said in ("body", "text"):
                if entry.get(said):
                    entry[said] = mask_in(entry[said], number)
    return entries


def _messages(conn: Connection, number: str, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(Message.id.label("message_id"), Message.campaign_id, Campaign.name.label("campaign"),
               Message.body, Message.status, Message.error, Message.encoding, Message.parts,
               Provider.name.label("provider"), Message.price, Message.currency, Message.arm,
               Message.created_at, Message.submitted_at, Message.done_at)
        .join(Campaign, Campaign.id == Message.campaign_id)
        .outerjoin(Provider, Provider.id == Message.provider_id)
        .where(Message.msisdn == number).order_by(Message.id.desc()).limit(limit)).mappings().all()
    out = []
    for row in rows:
        entry = {"kind": "message", "at": row["submitted_at"] or row["created_at"], **row,
                 "outcome": message_words(row["status"], row["error"])}
        for key in ("created_at", "submitted_at", "done_at"):
            entry[key] = aware(entry[key])
        out.append(entry)
    return out


def _receipts(conn: Connection, messages: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Receipts quoting the messages' parts' ids, as quoted or in the other base (receipts.py matches so)."""
    if not messages:
        return []
    by_id = {m["message_id"]: m for m in messages}
    parts = conn.execute(select(MessagePart.message_id, MessagePart.provider_id, MessagePart.provider_message_id,
                                MessagePart.alt_message_id).where(MessagePart.message_id.in_(list(by_id)))).all()
    owner: dict[tuple[int, str], int] = {}
    for message_id, provider_id, provider_message_id, alt_message_id in parts:
        for quoted in (provider_message_id, alt_message_id):
            if quoted:
                owner[(provider_id, quoted)] = message_id
    if not owner:
        return []
    rows = conn.execute(
        select(Receipt.provider_id, Receipt.provider_message_id, Receipt.stat, Receipt.err, Receipt.done_at,
               Receipt.received_at, Provider.name.label("provider"))
        .outerjoin(Provider, Provider.id == Receipt.provider_id)
        .where(tuple_(Receipt.provider_id, Receipt.provider_message_id).in_(list(owner)))
        .order_by(Receipt.id.desc()).limit(limit)).mappings().all()
    out = []
    for row in rows:
        message = by_id[owner[(row["provider_id"], row["provider_message_id"])]]
        out.append({"kind": "receipt", "at": row["received_at"], "message_id": message["message_id"],
                    "campaign_id": message["campaign_id"], "campaign": message["campaign"],
                    "stat": row["stat"], "err": row["err"], "outcome": receipt_words(row["stat"], row["err"]),
                    "done_at": aware(row["done_at"]),
                    "provider": row["provider"]})
    return out


def _replies(conn: Connection, number: str, limit: int) -> list[dict[str, Any]]:
    """Inbound SMS from the number, whose source may come with or without the '+'."""
    rows = conn.execute(
        select(InboundMessage.received_at, InboundMessage.text, InboundMessage.destination,
               Provider.name.label("provider"))
        .outerjoin(Provider, Provider.id == InboundMessage.provider_id)
        .where(InboundMessage.source.in_([number, number.lstrip("+")]))
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc()).limit(limit)).mappings().all()
    return [{"kind": "reply", "at": r["received_at"], "text": r["text"], "destination": r["destination"],
             "provider": r["provider"]} for r in rows]


def _opt_outs(conn: Connection, number: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(OptOut.channel, OptOut.source, OptOut.created_at)
                        .where(OptOut.msisdn == number)).mappings().all()
    return [{"kind": "opt_out", "at": r["created_at"], "channel": r["channel"], "source": r["source"]}
            for r in rows]


def aware(at: datetime | None) -> datetime | None:
    """SQLite gives back naive UTC, PostgreSQL aware datetimes: one kind, to sort and show them alike."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
