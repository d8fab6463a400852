"""send claims per batch: one row per batch a sender takes, instead of one update per message

The claim (queued -> sending, per message) was one of four updates of every message row, each a new
row version with its index entries: a sixth of PostgreSQL's time in `engage bench send`. Now the
dispatcher writes the batch id on each message in the update it already makes, and a sender claims a
batch with one INSERT; it then sends the batch's messages still queued in that batch. The sweeper
finds the work of dead senders as claims older than the lease.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'send_claims',
        sa.Column('batch_id', sa.String(length=32), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'),
                  nullable=False),
        sa.PrimaryKeyConstraint('batch_id'),
    )
    op.create_index('ix_send_claims_claimed_at', 'send_claims', ['claimed_at'], unique=False)
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_id', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('batch_id')
    op.drop_index('ix_send_claims_claimed_at', table_name='send_claims')
    op.drop_table('send_claims')
