"""indexes that keep the hot path's plans right whatever the statistics say

Found by auto_explain during `engage bench send`: both plans below are right once ANALYZE has seen
the table mid-campaign, and wrong before, which is always the case for a new provider or a campaign
launched after the last ANALYZE (autovacuum lags, or is off):

- The receipts worker looks parts up by (provider_id, provider_message_id = ANY(ids)). Statistics that
  have never seen the provider estimate 1 row for `provider_id = P`, so the planner used only that
  column of the unique index and filtered the ids: 50,000 index entries read per batch of 400 receipts,
  118 µs per receipt. With provider_message_id first, the ids are the index's leading column and no
  estimate of the provider can make scanning the whole provider attractive.
- The senders' updates by primary key (`id = ANY(ids) AND status IN ('sending', 'queued')`) imply the
  predicate of the partial index ix_messages_in_transit, which statistics taken before the campaign
  say is empty; the planner scanned it (every message in transit, 10,000+) instead of the primary key.
  The index now also requires `queued_at IS NOT NULL`, which every queued or sending message has (the
  dispatcher sets it) and which only the sweeper's queries state: they alone can use it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

IN_TRANSIT_OLD = "status IN ('queued', 'sending')"
IN_TRANSIT = "status IN ('queued', 'sending') AND queued_at IS NOT NULL"


def _in_transit(batch_op, where: str) -> None:  # noqa: ANN001
    batch_op.drop_index('ix_messages_in_transit')
    batch_op.create_index('ix_messages_in_transit', ['status', 'claimed_at', 'queued_at'], unique=False,
                          postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        _in_transit(batch_op, IN_TRANSIT)
    with op.batch_alter_table('message_parts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_parts_provider_id', type_='unique')
        batch_op.create_unique_constraint('uq_parts_provider_id', ['provider_message_id', 'provider_id'])


def downgrade() -> None:
    with op.batch_alter_table('message_parts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_parts_provider_id', type_='unique')
        batch_op.create_unique_constraint('uq_parts_provider_id', ['provider_id', 'provider_message_id'])
    with op.batch_alter_table('messages', schema=None) as batch_op:
        _in_transit(batch_op, IN_TRANSIT_OLD)
