"""What live counts need to follow the subscriber base: an index on subscribers.updated_at and a
log of removed subscribers (engine.segments.frame re-reads both before each count)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_subscribers_updated_at', 'subscribers', ['updated_at'])
    op.create_table(
        'subscriber_removals',
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True),
        sa.Column('subscriber_id', sa.BigInteger(), nullable=False),
        sa.Column('removed_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index('ix_subscriber_removals_removed_at', 'subscriber_removals', ['removed_at'])


def downgrade() -> None:
    op.drop_index('ix_subscriber_removals_removed_at', 'subscriber_removals')
    op.drop_table('subscriber_removals')
    op.drop_index('ix_subscribers_updated_at', 'subscribers')
