"""The loyalty programme (engine/loyalty/): programmes, members, an append-only ledger of entries with
an idempotency key per source, the lots points are earned in (FIFO redemption, expiry), redemption
holds and the balances the entries add up to, kept materialised.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def _where(condition: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    op.create_table('loyalty_balances',
    sa.Column('member_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('available', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('held', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('earned', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('redeemed', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('expired', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint('available >= 0', name='ck_loyalty_available'),
    sa.CheckConstraint('held >= 0', name='ck_loyalty_held'),
    sa.PrimaryKeyConstraint('member_id')
    )
    op.create_table('loyalty_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('held', sa.BigInteger(), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cause', sa.String(length=16), nullable=False),
    sa.Column('cause_id', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('idem_key', sa.String(length=128), nullable=True),
    sa.Column('lot_id', sa.BigInteger(), nullable=True),
    sa.Column('hold_id', sa.BigInteger(), nullable=True),
    sa.Column('reverses', sa.BigInteger(), nullable=True),
    sa.Column('actor', sa.String(length=128), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_loyalty_entries_member', 'loyalty_entries', ['member_id', 'id'], unique=False)
    op.create_index('uq_loyalty_entries_idem', 'loyalty_entries', ['source', 'idem_key'], unique=True,
                    **_where('idem_key IS NOT NULL'))
    op.create_table('loyalty_hold_lots',
    sa.Column('hold_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('lot_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('hold_id', 'lot_id')
    )
    op.create_table('loyalty_holds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('idem_key', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'idem_key')
    )
    op.create_index('ix_loyalty_holds_open', 'loyalty_holds', ['created_at'], unique=False, **_where("state = 'held'"))
    op.create_table('loyalty_lots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('earned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('remaining >= 0', name='ck_loyalty_lot_remaining'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_loyalty_lots_due', 'loyalty_lots', ['expires_at'], unique=False, **_where('remaining > 0'))
    op.create_index('ix_loyalty_lots_open', 'loyalty_lots', ['member_id', 'expires_at', 'id'], unique=False,
                    **_where('remaining > 0'))
    op.create_table('loyalty_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('level', sa.String(length=32), nullable=True),
    sa.Column('enrolled_via', sa.String(length=16), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('programme_id', 'subscriber_id')
    )
    op.create_index('ix_loyalty_members_subscriber', 'loyalty_members', ['subscriber_id'], unique=False)
    op.create_table('loyalty_programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('point_value', sa.Numeric(precision=14, scale=6), nullable=False),
    sa.Column('points_valid_days', sa.Integer(), nullable=True),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )


def downgrade() -> None:
    op.drop_table('loyalty_programmes')
    op.drop_index('ix_loyalty_members_subscriber', table_name='loyalty_members')
    op.drop_table('loyalty_members')
    op.drop_index('ix_loyalty_lots_open', table_name='loyalty_lots', **_where('remaining > 0'))
    op.drop_index('ix_loyalty_lots_due', table_name='loyalty_lots', **_where('remaining > 0'))
    op.drop_table('loyalty_lots')
    op.drop_index('ix_loyalty_holds_open', table_name='loyalty_holds', **_where("state = 'held'"))
    op.drop_table('loyalty_holds')
    op.drop_table('loyalty_hold_lots')
    op.drop_index('uq_loyalty_entries_idem', table_name='loyalty_entries', **_where('idem_key IS NOT NULL'))
    op.drop_index('ix_loyalty_entries_member', table_name='loyalty_entries')
    op.drop_table('loyalty_entries')
    op.drop_table('loyalty_balances')
