"""price tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('route_prices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=15), server_default='', nullable=False),
    sa.Column('mcc_mnc', sa.String(length=7), server_default='', nullable=False),
    sa.Column('network', sa.String(length=64), nullable=True),
    sa.Column('price', sa.Numeric(precision=14, scale=6), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_id', 'prefix', 'mcc_mnc', 'valid_from', name='uq_route_prices_key')
    )


def downgrade() -> None:
    op.drop_table('route_prices')
