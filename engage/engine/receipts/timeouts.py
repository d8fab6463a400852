"""Receipts that never come: a submitted message whose receipt has not arrived within its provider's
receipt_timeout (providers.common_settings) becomes `unconfirmed`, a final status of its own, so
that its campaign completes. SMSCs lose receipts, gateways report outcomes engage cannot read, and
some routes send none: without this such a message stayed `submitted`, and its campaign running,
forever. It was sent and is charged (its submitted_at stays); a receipt that arrives later still
settles it (statuses.SETTLEABLE, receipts.matching).

Set-based: per provider, one UPDATE per batch of at most BATCH messages, chosen from the partial
index ix_messages_awaiting_receipt (status = 'submitted', by provider and submit time), which holds
only the messages still waiting; the sweep reads the part of it past the timeout, never the table.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Engine, any_, func, literal_column, select

from engage.engine import metrics
from engage.engine import statuses as st
from engage.engine.events import record_batch
from engage.engine.providers.common_settings import receipt_timeout
from engage.engine.store.database import seconds_ago
from engage.engine.store.schema import Message, Provider

messages = Message.__table__
BATCH = 5000  # messages per UPDATE (and per transaction)
MAX_BATCHES = 20  # per provider and sweep: a backlog goes over several sweeps, the dispatcher not held up
# Written into the SQL rather than bound: only then can PostgreSQL prove that a prepared
# statement's rows lie in the partial index (its predicate is status = 'submitted').
AWAITING = literal_column(f"'{st.SUBMITTED}'")


def time_out_unconfirmed(engine: Engine, *, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """Every provider's submitted messages past its receipt timeout -> unconfirmed, with one event
    per campaign and batch; returns how many."""
    with engine.connect() as conn:
        providers = conn.execute(select(Provider.id, Provider.config).order_by(Provider.id)).all()
    total = 0
    for provider_id, config in providers:
        cutoff = seconds_ago(engine, receipt_timeout(config))
        for _ in range(max_batches):
            done = _time_out_batch(engine, provider_id, cutoff, batch)
            metrics.unconfirmed(provider_id, done)
            total += done
            if done < batch:
                break
    return total


def _time_out_batch(engine: Engine, provider_id: int, cutoff: object, batch: int) -> int:
    oldest = (select(Message.id).where(Message.status == AWAITING, Message.provider_id == provider_id,
                                       Message.submitted_at < cutoff)
              .order_by(Message.submitted_at).limit(batch))
    change = {"status": st.UNCONFIRMED, "done_at": func.now()}
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The rows locked as they are chosen, those a receipt is settling skipped, and the WHERE
            # checked again on any changed meanwhile: nothing a receipt settled is undone. Then
            # changed by primary key, from the array of their ids, whatever the statistics say: an
            # `id IN (...) AND status = ...` let the planner walk the whole partial index for the
            # outer condition, and a join hashed a scan of every message.
            due = func.array(oldest.with_for_update(skip_locked=True).scalar_subquery())
            query = messages.update().where(messages.c.id == any_(due))
        else:  # SQLite: one writer at a time, the choice and the change are one statement
            query = messages.update().where(messages.c.id.in_(oldest.scalar_subquery()),
                                            messages.c.status == AWAITING)
        changed = conn.execute(query.values(change).returning(messages.c.id, messages.c.campaign_id)).all()
        by_campaign: dict[int, list[int]] = defaultdict(list)
        for message_id, campaign_id in changed:
            by_campaign[campaign_id].append(message_id)
        for campaign_id, ids in by_campaign.items():
            record_batch(conn, st.UNCONFIRMED, campaign_id, sorted(ids))
    return len(changed)
