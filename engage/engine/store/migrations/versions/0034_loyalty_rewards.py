"""Loyalty rewards: the catalogue (names per language, price in points, stock, validity, level,
per-member limits, how each is fulfilled) and partners' voucher codes, one per redemption.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None


def _where(condition: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    op.create_table('loyalty_rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('names', sa.JSON(), nullable=False),
    sa.Column('descriptions', sa.JSON(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('level', sa.String(length=32), nullable=True),
    sa.Column('per_member', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilment', sa.String(length=32), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint('stock IS NULL OR stock >= 0', name='ck_loyalty_reward_stock'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('programme_id', 'code')
    )
    op.create_table('loyalty_voucher_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('hold_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reward_id', 'code')
    )
    op.create_index('ix_loyalty_voucher_free', 'loyalty_voucher_codes', ['reward_id', 'id'], unique=False,
                    **_where('hold_id IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_loyalty_voucher_free', table_name='loyalty_voucher_codes', **_where('hold_id IS NULL'))
    op.drop_table('loyalty_voucher_codes')
    op.drop_table('loyalty_rewards')
