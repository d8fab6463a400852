"""Loyalty partners and exchange: merchants with a token each (its hash kept), their transactions
(earn, burn, reversal) for settlement, members' one-time consent codes, the first answer to each
Idempotency-Key; other programmes exchanged with, and the transfers to and from them.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0035'
down_revision = '0034'
branch_labels = None
depends_on = None


def _where(condition: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    op.create_table('loyalty_partners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('earn_rate', sa.Numeric(precision=14, scale=6), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('burn_value', sa.Numeric(precision=14, scale=6), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('programme_id', 'code'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('loyalty_partner_transactions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('transaction_id', sa.String(length=64), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=16, scale=4), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=False),
    sa.Column('reverses', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_loyalty_partner_tx_period', 'loyalty_partner_transactions', ['partner_id', 'created_at'],
                    unique=False)
    op.create_index('uq_loyalty_partner_tx', 'loyalty_partner_transactions', ['partner_id', 'kind', 'transaction_id'],
                    unique=True, **_where("kind <> 'reversal'"))
    op.create_index('uq_loyalty_partner_tx_reverses', 'loyalty_partner_transactions', ['reverses'], unique=True,
                    **_where('reverses IS NOT NULL'))
    op.create_table('loyalty_consent_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_loyalty_consent_latest', 'loyalty_consent_codes', ['partner_id', 'member_id', 'id'],
                    unique=False)
    op.create_table('loyalty_partner_requests',
    sa.Column('partner_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('idem_key', sa.String(length=100), nullable=False),
    sa.Column('operation', sa.String(length=16), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('answer', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('partner_id', 'idem_key')
    )
    op.create_table('loyalty_exchange_partners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('rate_in', sa.Numeric(precision=14, scale=6), nullable=False),
    sa.Column('rate_out', sa.Numeric(precision=14, scale=6), nullable=False),
    sa.Column('min_points', sa.BigInteger(), nullable=False),
    sa.Column('daily_limit', sa.BigInteger(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('programme_id', 'code')
    )
    op.create_table('loyalty_exchange_transfers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('exchange_partner_id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('their_points', sa.BigInteger(), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_id')
    )
    op.create_index('ix_loyalty_exchange_member_day', 'loyalty_exchange_transfers',
                    ['exchange_partner_id', 'member_id', 'created_at'], unique=False)
    op.create_index('ix_loyalty_exchange_period', 'loyalty_exchange_transfers', ['exchange_partner_id', 'created_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_loyalty_exchange_period', table_name='loyalty_exchange_transfers')
    op.drop_index('ix_loyalty_exchange_member_day', table_name='loyalty_exchange_transfers')
    op.drop_table('loyalty_exchange_transfers')
    op.drop_table('loyalty_exchange_partners')
    op.drop_table('loyalty_partner_requests')
    op.drop_index('ix_loyalty_consent_latest', table_name='loyalty_consent_codes')
    op.drop_table('loyalty_consent_codes')
    op.drop_index('uq_loyalty_partner_tx_reverses', table_name='loyalty_partner_transactions',
                  **_where('reverses IS NOT NULL'))
    op.drop_index('uq_loyalty_partner_tx', table_name='loyalty_partner_transactions', **_where("kind <> 'reversal'"))
    op.drop_index('ix_loyalty_partner_tx_period', table_name='loyalty_partner_transactions')
    op.drop_table('loyalty_partner_transactions')
    op.drop_table('loyalty_partners')
