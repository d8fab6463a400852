"""Recording what the sender did with a batch: one statement per kind of change, per batch."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, bindparam, func, insert, select, update

from engage.engine import statuses as st
from engage.engine.events import record
from engage.engine.providers.base import SendOutcome
from engage.engine.receipts import match_pending, normalise_id
from engage.engine.store.schema import Message, MessagePart

messages = Message.__table__
parts = MessagePart.__table__


def still_queued(engine: Engine, message_ids: Sequence[int]) -> set[int]:
    """A redelivered batch skips what was already submitted (or cancelled) since it was published."""
    with engine.connect() as conn:
        return set(conn.execute(select(Message.id).where(
            Message.id.in_(message_ids), Message.status == st.QUEUED)).scalars())


def record_outcomes(engine: Engine, provider_id: int, campaign_id: int, outcomes: Sequence[SendOutcome]) -> None:
    sent = [o for o in outcomes if o.ok]
    failed = [o for o in outcomes if not o.ok]
    with engine.begin() as conn:
        if sent:
            conn.execute(insert(parts), [
                {"message_id": o.message_id, "part_no": i + 1, "provider_id": provider_id,
                 "provider_message_id": normalise_id(pid), "status": st.SUBMITTED}
                for o in sent for i, pid in enumerate(o.part_ids)])
            conn.execute(update(messages).where(messages.c.id == bindparam("mid"),
                                                messages.c.status == st.QUEUED).values(
                status=st.SUBMITTED, submitted_at=func.now()), [{"mid": o.message_id} for o in sent])
            record(conn, "submitted", ({"campaign_id": campaign_id, "message_id": o.message_id} for o in sent))
        if failed:
            conn.execute(update(messages).where(messages.c.id == bindparam("mid")).values(
                status=st.FAILED, error=bindparam("error"), done_at=func.now()),
                [{"mid": o.message_id, "error": o.error} for o in failed])
            record(conn, "failed", ({"campaign_id": campaign_id, "message_id": o.message_id,
                                     "data": {"error": o.error}} for o in failed))
    if sent:
        match_pending(engine)  # receipts that overtook their submit response
