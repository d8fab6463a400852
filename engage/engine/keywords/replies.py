"""Texting back: a keyword's confirmation ("You are unsubscribed...") goes out as a message of a
campaign of kind "reply", one per (reply template, short code), so that it takes the same road as
any other message (routing, failover, throughput limits, receipts, costs) and shows its figures on
its own campaign page. Such a campaign runs for good: completion passes it by, and the dispatcher
renders it for numbers that are no subscriber (with their number alone) and marks it `always`, so
that a sender's hold on numbers that just opted out (delivery/opt_outs.py) lets the STOP
confirmation itself through.

The reply goes from the short code the MO was sent to, through the provider it came by (while that
provider is healthy and reaches the number; the usual route otherwise), in the subscriber's
language (the template's default for a number we do not know).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, text

from engage.engine import statuses as st
from engage.engine.campaigns.kinds import REPLY_KIND
from engage.engine.keywords.actions import Inbound
from engage.engine.keywords.builtins import REPLY_SEGMENT
from engage.engine.store.bulk import one_of
from engage.engine.store.schema import Campaign, Message, Segment, Subscriber, Template

SENDER_MAX = 16  # campaigns.sender_id
CREATION_LOCK = 0x7265706C  # pg advisory lock key: "repl"


class ReplyError(ValueError):
    pass


def queue(conn: Connection, wanted: list[tuple[Inbound, int]]) -> list[dict[str, Any]]:
    """One pending message per (MO, reply template), in the reply campaign of that template and the MO's
    short code; returns for each what was queued. A statement per kind of row, not per MO."""
    if not wanted:
        return []
    campaigns = _campaigns(conn, {(template_id, mo.destination[:SENDER_MAX]) for mo, template_id in wanted})
    numbers = sorted({mo.number for mo, _ in wanted})
    known = dict(conn.execute(select(Subscriber.msisdn, Subscriber.id).where(
        one_of(conn, Subscriber.msisdn, numbers))).all())
    rows = [{"campaign_id": campaigns[(template_id, mo.destination[:SENDER_MAX])], "msisdn": mo.number,
             "subscriber_id": known.get(mo.number, 0), "status": st.PENDING, "arm": "A",
             "provider_id": mo.provider_id}  # the provider it came by, which the dispatcher prefers
            for mo, template_id in wanted]
    conn.execute(insert(Message.__table__), rows)
    return [{"reply": row["campaign_id"]} for row in rows]


def _campaigns(conn: Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """(template, short code) -> its reply campaign, made on first use. On PostgreSQL two handlers
    making the same one at once queue on an advisory lock, and the second finds the first's (SQLite
    lets one writer at a time anyway)."""
    found = _existing(conn, keys)
    missing = sorted(keys - set(found))
    if missing and conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CREATION_LOCK})
        found.update(_existing(conn, set(missing)))
        missing = sorted(keys - set(found))
    if missing:
        segment_id = conn.execute(select(Segment.id).where(Segment.name == REPLY_SEGMENT)).scalar()
        if segment_id is None:
            raise ReplyError(f"the segment {REPLY_SEGMENT!r} that reply campaigns name is gone "
                             "(keywords.builtins.ensure writes it)")
        names = dict(conn.execute(select(Template.id, Template.name).where(
            Template.id.in_([t for t, _ in missing]))).all())
        for template_id, sender in missing:
            if template_id not in names:
                raise ReplyError(f"reply template {template_id} does not exist")
            found[(template_id, sender)] = conn.execute(insert(Campaign.__table__).values(
                name=f"{names[template_id]} from {sender}"[:200], segment_id=segment_id, template_id=template_id,
                sender_id=sender, kind=REPLY_KIND, status=st.CAMPAIGN_RUNNING, created_by="keywords",
                set_aside={}, audience_size=0)).inserted_primary_key[0]
    return found


def _existing(conn: Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    match = or_(*(and_(Campaign.template_id == t, Campaign.sender_id == s) for t, s in sorted(keys)))
    return {(t, s): cid for cid, t, s in conn.execute(select(Campaign.id, Campaign.template_id, Campaign.sender_id)
                                                      .where(Campaign.kind == REPLY_KIND, match))}


def queue_text(conn: Connection, template_id: int, sender: str, msisdn: str, subscriber_id: int, body: str) -> int:
    """A message whose text was made when it was queued, from a value no template can hold (a
    one-time code): it goes in the reply campaign of (template, sender), so it takes a reply's road,
    and the dispatcher sends the body as it is. Returns the message's id."""
    return queue_texts(conn, template_id, sender, [(msisdn, subscriber_id, body)])[0]


def queue_texts(conn: Connection, template_id: int, sender: str, texts: Sequence[tuple[str, int, str]]) -> list[int]:
    """`queue_text` for many (msisdn, subscriber id, body) at once, as one INSERT (a few on
    PostgreSQL, a thousand rows each): a job that tells thousands of members something (their
    points expiring) queues them as one batch. Returns the messages' ids, in the order given."""
    if not texts:
        return []
    campaign_id = campaign_for(conn, template_id, sender)
    rows = [{"campaign_id": campaign_id, "msisdn": msisdn, "subscriber_id": subscriber_id, "status": st.PENDING,
             "arm": "A", "body": body} for msisdn, subscriber_id, body in texts]
    return list(conn.execute(insert(Message.__table__).returning(Message.id, sort_by_parameter_order=True),
                             rows).scalars())


def campaign_for(conn: Connection, template_id: int, sender: str) -> int:
    """The reply campaign of (template, sender), made on first use: where its texts are queued."""
    sender = sender[:SENDER_MAX]
    return _campaigns(conn, {(template_id, sender)})[(template_id, sender)]
