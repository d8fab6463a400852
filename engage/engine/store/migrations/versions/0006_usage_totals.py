"""usage totals: per-subscriber usage over the standard windows, for fast usage criteria

A usage criterion ("10+ outgoing minutes in the last 30 days") summed about a million events per
count at a million subscribers: over a second. usage_totals holds each subscriber's sum and count
per kind for the last 7, 30, 60 and 90 days as of a refresh, indexed by the value so that a
threshold is a range scan; the criterion corrects it exactly with the events since.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usage_totals',
                    sa.Column('kind', sa.String(length=16), nullable=False),
                    sa.Column('days', sa.SmallInteger(), nullable=False),
                    sa.Column('subscriber_id', sa.BigInteger(), nullable=False),
                    sa.Column('total', sa.Float(), nullable=False),
                    sa.Column('events', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('kind', 'days', 'subscriber_id'))
    op.create_index('ix_usage_totals_total', 'usage_totals', ['kind', 'days', 'total'],
                    postgresql_include=['subscriber_id', 'events'])
    op.create_table('usage_totals_state',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('windows', sa.String(length=64), nullable=False),
                    sa.Column('refreshed_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'),
                              nullable=False),
                    sa.PrimaryKeyConstraint('id'))


def downgrade() -> None:
    op.drop_table('usage_totals_state')
    op.drop_index('ix_usage_totals_total', table_name='usage_totals')
    op.drop_table('usage_totals')
