"""`engage bench events`: how fast the events consumer folds the event stream into the delivery
figures (campaign_stats), in the configured database.

A bench campaign gets a pool of messages, and the stream gets `events` events in the mix a sending
campaign writes: for each batch of `batch` messages a `queued`, a `submitted` and a `delivered`
event, and a per-message `failed` one. The events are folded by a consumer of their own (the
delivery figures' fold under another name, starting at the stream's end), batch after batch as the
events worker does, and timed. Everything it wrote is removed afterwards."""

from __future__ import annotations

import resource
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from engage import config
from engage.engine.analytics import consumers, delivery_stats
from engage.engine.store.bulk import chunks, insert_rows
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import Campaign, Event, Message, Segment, Template
from engage.engine.store.schema_analytics import AnalyticsWatermark, CampaignStat

NAME = "bench_events"
POOL = 200_000  # messages at most: events name them again and again, as a long campaign's do
PER_GROUP = 4  # events per batch of messages: queued, submitted, delivered, and one failed message


def run(events: int, *, batch: int = 100, limit: int = 1000) -> dict[str, Any]:
    """Write the stream, fold it, return the figures (a dict ready for JSON)."""
    if events < PER_GROUP or batch < 1:
        raise ValueError(f"--events must be at least {PER_GROUP} and --batch at least 1")
    url = config.load().database_url
    upgrade(url)
    engine = make_engine(url)
    campaign_id = None
    consumers.register(NAME, delivery_stats.fold, kinds=(*delivery_stats.MESSAGE_KINDS, delivery_stats.LAUNCHED),
                       start="now")
    try:
        consumers.run_once(engine, only=[NAME])  # its watermark row
        groups = events // PER_GROUP
        campaign_id, ids = _campaign(engine, min(POOL, groups * batch))
        written = _stream(engine, campaign_id, ids, groups, batch)
        with engine.begin() as conn:  # from its first event: ids deleted before it are no gap to wait on
            first = conn.execute(select(func.min(Event.id)).where(Event.campaign_id == campaign_id)).scalar_one()
            conn.execute(update(AnalyticsWatermark.__table__).where(
                AnalyticsWatermark.name == consumers.PREFIX + NAME).values(last_id=first - 1, detail={}))
        started = time.perf_counter()
        folded, batches = 0, 0
        while True:
            done = consumers.run_once(engine, only=[NAME], limit=limit)["consumers"][NAME]
            if "error" in done:
                raise RuntimeError(f"the fold failed: {done['error']}")
            folded += done["events"]
            batches += 1
            if not done["full"] and (folded >= written["events"] or not done["events"]):
                break
        seconds = time.perf_counter() - started
        with engine.connect() as conn:
            counted = conn.execute(select(func.sum(CampaignStat.messages)).where(
                CampaignStat.campaign_id == campaign_id)).scalar() or 0
        counted = int(counted)
        return {"events": folded, "messages": counted, "seconds": round(seconds, 2),
                "events_per_s": round(folded / seconds) if seconds else 0,
                "messages_per_s": round(counted / seconds) if seconds else 0,
                "batches": batches, "batch_messages": batch, "limit": limit, "written": written,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "database": engine.dialect.name}
    finally:
        consumers.unregister(NAME)
        _clean(engine, campaign_id)
        engine.dispose()


def _campaign(engine: Engine, size: int) -> tuple[int, list[int]]:
    """A bench campaign (no segment or template of its own to speak of) and its messages."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        segment = conn.execute(insert(Segment.__table__).values(name=NAME, definition={})).inserted_primary_key[0]
        template = conn.execute(insert(Template.__table__).values(name=NAME, default_language="en")
                                ).inserted_primary_key[0]
        campaign_id = conn.execute(insert(Campaign.__table__).values(
            name=NAME, segment_id=segment, template_id=template, sender_id="Bench", status="completed",
            set_aside={})).inserted_primary_key[0]
        for part in chunks(range(size), 50_000):
            insert_rows(conn, Message.__table__, [{
                "campaign_id": campaign_id, "run_id": 1, "subscriber_id": i, "msisdn": f"+99899{i:07d}",
                "status": "delivered", "provider_id": 1 + i % 2, "network": ("434-04", "434-05")[i % 2],
                "arm": "AB"[i % 2], "price": Decimal("0.02"), "currency": "USD",
                "submitted_at": now - timedelta(seconds=5), "done_at": now} for i in part])
        ids = list(conn.execute(select(Message.id).where(Message.campaign_id == campaign_id)
                                .order_by(Message.id)).scalars())
    return campaign_id, ids


def _stream(engine: Engine, campaign_id: int, ids: list[int], groups: int, batch: int) -> dict[str, int]:
    rows: list[dict[str, Any]] = []
    start = 0
    for _ in range(groups):
        taken = [ids[(start + i) % len(ids)] for i in range(batch)]
        start = (start + batch) % len(ids)
        for kind in ("queued", "submitted", "delivered"):
            rows.append({"kind": kind, "campaign_id": campaign_id, "message_id": None, "message_count": len(taken),
                         "data": {"message_ids": taken}})
        rows.append({"kind": "failed", "campaign_id": campaign_id, "message_id": taken[-1], "message_count": 1,
                     "data": {"error": "smpp:0x45"}})
    with engine.begin() as conn:
        for part in chunks(rows, 20_000):
            insert_rows(conn, Event.__table__, list(part))
    return {"events": len(rows), "messages": sum(r["message_count"] for r in rows)}


def _clean(engine: Engine, campaign_id: int | None) -> None:
    with engine.begin() as conn:
        conn.execute(delete(AnalyticsWatermark.__table__).where(AnalyticsWatermark.name == consumers.PREFIX + NAME))
        if campaign_id is None:
            return
        for table, column in ((CampaignStat.__table__, "campaign_id"), (Event.__table__, "campaign_id"),
                              (Message.__table__, "campaign_id")):
            conn.execute(delete(table).where(table.c[column] == campaign_id))
        campaign = conn.execute(select(Campaign.segment_id, Campaign.template_id).where(
            Campaign.id == campaign_id)).one()
        conn.execute(delete(Campaign.__table__).where(Campaign.id == campaign_id))
        conn.execute(delete(Segment.__table__).where(Segment.id == campaign.segment_id))
        conn.execute(delete(Template.__table__).where(Template.id == campaign.template_id))
