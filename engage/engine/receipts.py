"""Delivery receipts: stored as they arrive, then matched to message parts by
(provider, provider message id). A receipt that matches nothing yet stays stored
and unmatched, and is matched when its submit response is recorded: never dropped.

Ids are compared lower-cased, and also in the other base (provider_ids.alternate_id): some
SMSCs answer a submit with a hex id and quote it in decimal in the receipt.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select

from engage.engine import metrics
from engage.engine import statuses as st
from engage.engine.events import record
from engage.engine.provider_ids import alternate_id, normalise_id
from engage.engine.store.bulk import insert_rows, update_from_values, update_ids
from engage.engine.store.database import seconds_ago
from engage.engine.store.schema import InboundMessage, Message, MessagePart, Receipt

receipts = Receipt.__table__
parts = MessagePart.__table__
messages = Message.__table__

ALT_MATCH_AFTER = 2.0  # seconds: first give the receipt a chance to match its id as quoted


def store(engine: Engine, provider_id: int, items: list[dict[str, Any]], inbound: list[dict[str, Any]]) -> None:
    """items: {"id", "stat", "err", "done_at" (ISO or None)} as the sender's sink published them."""
    with engine.begin() as conn:
        if items:
            rows = []
            for r in items:
                norm = normalise_id(r["id"])
                rows.append({"provider_id": provider_id, "provider_message_id": norm,
                             "alt_message_id": alternate_id(norm), "stat": r["stat"], "err": r.get("err"),
                             "matched": False, "orphaned": False,
                             "done_at": datetime.fromisoformat(r["done_at"]) if r.get("done_at") else None})
            insert_rows(conn, receipts, rows)
        if inbound:
            conn.execute(insert(InboundMessage.__table__), [
                {"provider_id": provider_id, "source": m["source"], "destination": m["destination"],
                 "text": m["text"], "handled": False} for m in inbound])
            record(conn, "inbound", ({"data": {"provider_id": provider_id, "source": m["source"]}}
                                     for m in inbound))
    if items:
        metrics.receipts(provider_id, Counter(r["stat"] for r in items))


def match_pending(engine: Engine, limit: int = 5000) -> int:
    """Match unmatched receipts to parts, and settle every message whose parts are all final."""
    same_provider = MessagePart.provider_id == Receipt.provider_id
    unmatched = and_(Receipt.matched.is_(False), Receipt.orphaned.is_(False))
    columns = (Receipt.id.label("rid"), MessagePart.id.label("pid"), MessagePart.message_id,
               Receipt.stat, Receipt.err)
    with engine.begin() as conn:
        rows = conn.execute(select(*columns).join(MessagePart, same_provider & (
            MessagePart.provider_message_id == Receipt.provider_message_id))
            .where(unmatched).order_by(Receipt.id).limit(limit)).all()
        # then the other base, for receipts old enough not to be merely early; one equality join
        # each, so both use an index (an OR would scan every part of the provider)
        for part_id, receipt_id in ((MessagePart.alt_message_id, Receipt.provider_message_id),
                                    (MessagePart.provider_message_id, Receipt.alt_message_id)):
            if len(rows) >= limit:
                break
            found = {r.rid for r in rows}
            rows += [r for r in conn.execute(select(*columns).join(MessagePart, same_provider & (part_id == receipt_id))
                     .where(unmatched, Receipt.received_at < seconds_ago(engine, ALT_MATCH_AFTER))
                     .order_by(Receipt.id).limit(limit - len(rows))).all() if r.rid not in found]
        if not rows:
            return 0
        update_ids(conn, receipts, list({r.rid for r in rows}), {"matched": True})
        final = [r for r in rows if r.stat in st.RECEIPT_FINAL]
        if final:
            update_from_values(conn, parts, "id", [{"id": r.pid, "status": st.RECEIPT_FINAL[r.stat],
                                                    "error": r.err} for r in final],
                               extra={"done_at": func.now()})
        _settle(conn, {r.message_id for r in final})
    return len(rows)


def orphan_stale(engine: Engine, older_than: float) -> int:
    """Receipts that matched nothing for this long stop being re-scanned; they stay stored and counted."""
    with engine.begin() as conn:
        return conn.execute(receipts.update().where(
            receipts.c.matched.is_(False), receipts.c.orphaned.is_(False),
            receipts.c.received_at < seconds_ago(engine, older_than)).values(orphaned=True)).rowcount


def _settle(conn, message_ids: set[int]) -> None:  # noqa: ANN001
    if not message_ids:
        return
    by_message: dict[int, list[str]] = defaultdict(list)
    for message_id, status in conn.execute(select(MessagePart.message_id, MessagePart.status).where(
            MessagePart.message_id.in_(message_ids))):
        by_message[message_id].append(status)
    settled: dict[str, list[int]] = defaultdict(list)
    for message_id, statuses in by_message.items():
        outcome = st.combine_parts(statuses)
        if outcome is not None:
            settled[outcome].append(message_id)
    if not settled:
        return
    all_ids = [m for ids in settled.values() for m in ids]
    campaign_of = dict(conn.execute(select(Message.id, Message.campaign_id).where(Message.id.in_(all_ids))).all())
    for status, ids in settled.items():
        update_ids(conn, messages, ids, {"status": status, "done_at": func.now()},
                   where=messages.c.status.in_(st.IN_FLIGHT))
        record(conn, status, ({"campaign_id": campaign_of.get(m), "message_id": m} for m in ids))
