"""Delivery receipts: stored as they arrive, then matched to message parts by
(provider, provider message id). A receipt that matches nothing yet stays stored
and unmatched, and is matched when its submit response is recorded: never dropped.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, or_, select, update

from engage.engine import statuses as st
from engage.engine.events import record
from engage.engine.store.schema import InboundMessage, Message, MessagePart, Receipt

receipts = Receipt.__table__
parts = MessagePart.__table__
messages = Message.__table__


def normalise_id(provider_message_id: str) -> str:
    """Providers echo their ids back in another case than they gave them."""
    return provider_message_id.strip().lower()


def store(engine: Engine, provider_id: int, items: list[dict[str, Any]], inbound: list[dict[str, Any]]) -> None:
    """items: {"id", "stat", "err", "done_at" (ISO or None)} as the sender's sink published them."""
    with engine.begin() as conn:
        if items:
            conn.execute(insert(receipts), [
                {"provider_id": provider_id, "provider_message_id": normalise_id(r["id"]), "stat": r["stat"],
                 "err": r.get("err"), "matched": False,
                 "done_at": datetime.fromisoformat(r["done_at"]) if r.get("done_at") else None}
                for r in items])
        if inbound:
            conn.execute(insert(InboundMessage.__table__), [
                {"provider_id": provider_id, "source": m["source"], "destination": m["destination"],
                 "text": m["text"], "handled": False} for m in inbound])
            record(conn, "inbound", ({"data": {"provider_id": provider_id, "source": m["source"]}}
                                     for m in inbound))


def match_pending(engine: Engine, limit: int = 5000) -> int:
    """Match unmatched receipts to parts, and settle every message whose parts are all final."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(Receipt.id.label("rid"), MessagePart.id.label("pid"), MessagePart.message_id,
                   Receipt.stat, Receipt.err, Receipt.done_at)
            .join(MessagePart, (MessagePart.provider_id == Receipt.provider_id)
                  & (MessagePart.provider_message_id == Receipt.provider_message_id))
            .where(Receipt.matched.is_(False)).order_by(Receipt.id).limit(limit)).all()
        if not rows:
            return 0
        conn.execute(update(receipts).where(receipts.c.id == bindparam("r")).values(matched=True),
                     [{"r": r.rid} for r in rows])
        final = [r for r in rows if r.stat in st.RECEIPT_FINAL]
        if final:
            conn.execute(update(parts).where(parts.c.id == bindparam("p")).values(
                status=bindparam("s"), error=bindparam("e"), done_at=func.now()),
                [{"p": r.pid, "s": st.RECEIPT_FINAL[r.stat], "e": r.err} for r in final])
        _settle(conn, {r.message_id for r in final})
    return len(rows)


def _settle(conn, message_ids: set[int]) -> None:  # noqa: ANN001
    if not message_ids:
        return
    by_message: dict[int, list[str]] = defaultdict(list)
    for message_id, status in conn.execute(select(MessagePart.message_id, MessagePart.status).where(
            MessagePart.message_id.in_(message_ids))):
        by_message[message_id].append(status)
    settled = []
    for message_id, statuses in by_message.items():
        outcome = st.combine_parts(statuses)
        if outcome is not None:
            settled.append({"m": message_id, "s": outcome})
    if not settled:
        return
    in_flight = or_(*(messages.c.status == s for s in st.IN_FLIGHT))  # no IN list: executemany
    conn.execute(update(messages).where(messages.c.id == bindparam("m"), in_flight).values(
        status=bindparam("s"), done_at=func.now()), settled)
    campaign_of = dict(conn.execute(select(Message.id, Message.campaign_id).where(
        Message.id.in_([s["m"] for s in settled]))).all())
    for status in {s["s"] for s in settled}:
        record(conn, status, ({"campaign_id": campaign_of.get(s["m"]), "message_id": s["m"]}
                              for s in settled if s["s"] == status))
