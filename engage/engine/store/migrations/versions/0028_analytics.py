"""Analytics: each reader's watermark over the event stream (analytics_watermarks), the delivery
figures the events consumer folds from it (campaign_stats), and how a campaign's effectiveness is
judged (campaigns.analytics: its conversion, response window and customer groups)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'analytics_watermarks',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('last_id', sa.BigInteger(), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint('name'))
    op.create_table(
        'campaign_stats',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('arm', sa.String(length=8), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('network', sa.String(length=16), nullable=False),
        sa.Column('branch', sa.String(length=64), nullable=False),
        sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('messages', sa.BigInteger(), nullable=False),
        sa.Column('cost', sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('campaign_id', 'run_id', 'arm', 'provider_id', 'network', 'branch', 'hour',
                                'kind', 'currency'))
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.add_column(sa.Column('analytics', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.drop_column('analytics')
    op.drop_table('campaign_stats')
    op.drop_table('analytics_watermarks')
