"""A campaign's outcome figures (campaign_results: per run, arm, control group and customer group:
recipients, delivered, responded, converted, cost; and the conversion curve), and when they were
computed under which settings (campaign_results_state)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'campaign_results',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('dimension', sa.String(length=32), nullable=False),
        sa.Column('grp', sa.String(length=100), nullable=False),
        sa.Column('arm', sa.String(length=8), nullable=False),
        sa.Column('control', sa.Boolean(), nullable=False),
        sa.Column('recipients', sa.BigInteger(), nullable=False),
        sa.Column('delivered', sa.BigInteger(), nullable=False),
        sa.Column('responded', sa.BigInteger(), nullable=False),
        sa.Column('converted', sa.BigInteger(), nullable=False),
        sa.Column('cost', sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('campaign_id', 'run_id', 'dimension', 'grp', 'arm', 'control'))
    op.create_table(
        'campaign_results_state',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closes_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('messages', sa.BigInteger(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('campaign_id'))


def downgrade() -> None:
    op.drop_table('campaign_results_state')
    op.drop_table('campaign_results')
