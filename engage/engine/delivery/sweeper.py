"""The sweeper: finds messages whose work was lost and gives it back, so every message reaches
a final state or stays visibly pending.

- A batch claimed longer ago than the lease whose messages are still queued (its sender was killed
  mid-batch) is re-published, as a new batch: the SMSC may have accepted some of it, so these are
  the only duplicates. Claims older than the lease are then deleted; their batches are done.
- A `queued` message whose publish never reached the broker (a crash between the database
  commit and the publish, or an in-process broker that died with its process) is re-published
  once its provider's queue is empty; the claim keeps a second copy from being sent twice.
- A provider whose live senders all report it down (no bind up, or failing) for longer than
  `failover_after` hands its queued messages back to the dispatcher, which routes them to the
  next cheapest healthy provider; messages with nowhere else to go wait for it instead.
- Receipts that matched nothing for a long time are set aside as orphaned (kept, counted).
- Submitted messages whose receipt has not come within their provider's receipt_timeout become
  `unconfirmed`, so that their campaigns complete (receipts.timeouts); a late receipt still settles them.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Engine, Select, literal_column, select, text

from engage import config
from engage.engine import statuses as st
from engage.engine.broker import Broker
from engage.engine.broker.queues import send_queue
from engage.engine.campaigns.kinds import REPLY_KIND
from engage.engine.delivery.batches import SendBatch, new_batch_id, publish
from engage.engine.delivery.submits import take_batches
from engage.engine.providers.base import OutboundSms
from engage.engine.providers.status import read_status
from engage.engine.receipts.matching import orphan_stale
from engage.engine.receipts.timeouts import time_out_unconfirmed
from engage.engine.routes.router import NoRoute, Router
from engage.engine.store.bulk import chunks, one_of, update_from_values, update_ids
from engage.engine.store.database import seconds_ago
from engage.engine.store.schema import Campaign, Message, SendClaim

log = logging.getLogger(__name__)
messages = Message.__table__
BATCH = 500  # messages per re-published batch
# Written into the SQL rather than bound: only then can PostgreSQL prove that a prepared
# statement's rows lie in the small partial index ix_messages_in_transit (status IN (...) AND
# queued_at IS NOT NULL). Only the sweeper states the second half (see migration 0013).
IN_TRANSIT = {s: literal_column(f"'{s}'") for s in (st.QUEUED, st.SENDING)}
WAS_QUEUED = Message.queued_at.is_not(None)
UNCLAIMED = text("NOT EXISTS (SELECT 1 FROM send_claims WHERE send_claims.batch_id = messages.batch_id)")
claims = SendClaim.__table__


@dataclass
class SweepReport:
    reclaimed: int = 0  # stale claims taken back from dead senders
    republished: int = 0  # messages published again
    orphaned: int = 0  # receipts set aside
    failed_over: int = 0  # queued messages taken from a provider that is down
    unconfirmed: int = 0  # submitted messages whose receipt did not come in time

    def __bool__(self) -> bool:
        return bool(self.reclaimed or self.republished or self.orphaned or self.failed_over or self.unconfirmed)


class Sweeper:
    """Runs the sweep; remembers since when each provider has been down, across sweeps."""

    def __init__(self, engine: Engine, broker: Broker, settings: config.Settings | None = None):
        self.engine, self.broker = engine, broker
        self.settings = settings or config.load()
        self.down_since: dict[int, float] = {}

    def sweep(self, *, limit: int = 5000) -> SweepReport:
        report = sweep(self.engine, self.broker, self.settings, limit=limit)
        report.failed_over = self._fail_over_down_providers(limit)
        if report.failed_over:
            log.warning("sweeper: %d queued messages moved off providers that are down", report.failed_over)
        return report

    def _fail_over_down_providers(self, limit: int) -> int:
        with self.engine.connect() as conn:
            statuses = read_status(conn)
        now = time.monotonic()
        for s in statuses:
            if s["enabled"] and s["workers"] and not s["healthy"]:
                self.down_since.setdefault(s["provider_id"], now)
            else:
                self.down_since.pop(s["provider_id"], None)
        down = [p for p, since in self.down_since.items() if now - since >= self.settings.failover_after]
        return sum(_fail_over_queued(self.engine, p, limit) for p in down)


def _fail_over_queued(engine: Engine, provider_id: int, limit: int) -> int:
    """Queued (not yet claimed) messages of a provider that is down go back to pending with it
    excluded, but only those another healthy provider can take."""
    with engine.begin() as conn:
        rows = conn.execute(select(Message.id, Message.msisdn, Message.tried_providers, Message.batch_id).where(
            Message.status == IN_TRANSIT[st.QUEUED], WAS_QUEUED, Message.provider_id == provider_id, UNCLAIMED)
            .order_by(Message.id).limit(limit)).all()
        if not rows:
            return 0
        # the batches are claimed first, as a sender would: one a sender took meanwhile is its own
        batches = {r.batch_id for r in rows if r.batch_id is not None}
        won = take_batches(conn, provider_id, sorted(batches))
        router = Router(conn)
        moved = []
        for r in rows:
            if r.batch_id is not None and r.batch_id not in won:
                continue
            tried = [t for t in (r.tried_providers or "").split(",") if t] + [str(provider_id)]
            try:
                route = router.choose(r.msisdn, exclude=[int(t) for t in tried])
            except NoRoute:
                continue
            if route.healthy:
                moved.append({"id": r.id, "tried_providers": ",".join(tried), "error": "provider down"})
        update_from_values(conn, messages, "id", moved, extra={"status": st.PENDING, "provider_id": None},
                           where=messages.c.status == st.QUEUED)
    return len(moved)


def sweep(engine: Engine, broker: Broker, settings: config.Settings | None = None, *, limit: int = 5000) -> SweepReport:
    """The stateless part of the sweep: stale claims, lost publishes, orphaned receipts, receipts
    that never came."""
    settings = settings or config.load()
    report = SweepReport()
    lease = seconds_ago(engine, settings.send_lease)
    with engine.begin() as conn:  # claims per message, of batches published before migration 0014
        stale_claims = messages.update().where(
            messages.c.status == IN_TRANSIT[st.SENDING], WAS_QUEUED, messages.c.claimed_at < lease)
        report.reclaimed = conn.execute(stale_claims.values(status=st.QUEUED, claimed_at=None)).rowcount
    report.reclaimed += _republish_stale_claims(engine, broker, lease, limit)
    report.republished = _republish_lost(engine, broker, settings.republish_after, limit)
    report.orphaned = orphan_stale(engine, settings.orphan_after)
    report.unconfirmed = time_out_unconfirmed(engine)
    if report:
        log.warning("sweeper: %s", report)
    return report


def _outbound() -> Select:
    return (select(Message.id, Message.msisdn, Message.body, Message.campaign_id, Message.provider_id,
                   Campaign.sender_id, Campaign.kind)
            .join(Campaign, Campaign.id == Message.campaign_id)
            .where(Message.status == IN_TRANSIT[st.QUEUED], WAS_QUEUED))


def _republish_stale_claims(engine: Engine, broker: Broker, lease: Any, limit: int) -> int:
    """Batches claimed before the lease: what is still queued in them was never sent, or its sender
    died before recording it; a new batch. The old claims go: their batches are done either way."""
    with engine.begin() as conn:
        stale = conn.execute(select(claims.c.batch_id).where(claims.c.claimed_at < lease)
                             .order_by(claims.c.claimed_at).limit(limit)).scalars().all()
        if not stale:
            return 0
        rows = conn.execute(_outbound().where(one_of(conn, Message.batch_id, stale))).all()
        batches = _rebatch(conn, rows)
        conn.execute(claims.delete().where(one_of(conn, claims.c.batch_id, stale)))
    return _publish(broker, batches)


def _republish_lost(engine: Engine, broker: Broker, after: float, limit: int) -> int:
    """Queued messages of no claimed batch, waiting longer than `after` while their provider's queue
    is empty: their publish never reached the broker. Published again under their own batch id, so
    if the first copy was not lost after all, whichever copy a sender claims first goes out, once."""
    query = _outbound().add_columns(Message.batch_id).where(
        Message.provider_id.is_not(None), Message.queued_at < seconds_ago(engine, after), UNCLAIMED,
    ).order_by(Message.id).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    idle = {p for p in {r.provider_id for r in rows} if broker.depth(send_queue(p)) == 0}
    # a busy queue may still hold the others
    return _publish(broker, _batches([r for r in rows if r.provider_id in idle], lambda r: r.batch_id))


def _rebatch(conn: Connection, rows: Sequence[Any]) -> list[SendBatch]:
    """New batches for these messages, written on them first: a copy of the old batch that turns up
    later finds them gone from it, so they go out once."""
    batches = [replace(b, batch_id=new_batch_id()) for b in _batches(rows, lambda _row: None)]
    for b in batches:
        update_ids(conn, messages, [m.id for m in b.messages], {"batch_id": b.batch_id},
                   where=messages.c.status == st.QUEUED)
    return batches


def _batches(rows: Sequence[Any], batch_of: Callable[[Any], str | None]) -> list[SendBatch]:
    """Rows grouped by provider, campaign and batch id, BATCH messages at most per batch."""
    groups: dict[tuple[int, int, str | None], list[OutboundSms]] = defaultdict(list)
    for r in rows:
        groups[(r.provider_id, r.campaign_id, batch_of(r))].append(
            OutboundSms(r.id, r.msisdn, r.sender_id, r.body or "", always=r.kind == REPLY_KIND))
    return [SendBatch(provider_id, campaign_id, list(chunk), batch_id)
            for (provider_id, campaign_id, batch_id), items in groups.items() for chunk in chunks(items, BATCH)]


def _publish(broker: Broker, batches: list[SendBatch]) -> int:
    for b in batches:
        publish(broker, b.provider_id, b.campaign_id, b.messages, b.batch_id,
                always=any(m.always for m in b.messages))
    return sum(len(b.messages) for b in batches)
