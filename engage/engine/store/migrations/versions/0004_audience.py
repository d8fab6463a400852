"""audience: subscriber profile fields, tags, usage events, static lists, branch scope

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

def _subscriber_columns() -> list[sa.Column]:
    return [
        sa.Column('network', sa.String(length=7), nullable=True),
        sa.Column('contract_type', sa.String(length=16), nullable=True),
        sa.Column('tariff_plan', sa.String(length=64), nullable=True),
        sa.Column('device_os', sa.String(length=32), nullable=True),
        sa.Column('device_model', sa.String(length=64), nullable=True),
        sa.Column('activation_date', sa.Date(), nullable=True),
        sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_recharge_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_recharge_amount', sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column('arpu', sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column('data_mb_month', sa.Integer(), nullable=True),
        sa.Column('voice_min_month', sa.Integer(), nullable=True),
        sa.Column('sms_month', sa.Integer(), nullable=True),
        sa.Column('roaming', sa.Boolean(), nullable=True),
        sa.Column('loyalty_tier', sa.String(length=32), nullable=True),
        sa.Column('loyalty_points', sa.BigInteger(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table('subscribers') as batch:
        for column in _subscriber_columns():
            batch.add_column(column)
    with op.batch_alter_table('segments') as batch:
        batch.add_column(sa.Column('branch', sa.String(length=64), nullable=True))
    with op.batch_alter_table('campaigns') as batch:
        batch.add_column(sa.Column('branch', sa.String(length=64), nullable=True))
    op.create_table('subscriber_tags',
    sa.Column('subscriber_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscriber_id', 'tag')
    )
    op.create_index('ix_subscriber_tags_tag', 'subscriber_tags', ['tag', 'subscriber_id'])
    op.create_table('usage_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscriber_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_usage_kind_at', 'usage_events', ['kind', 'at', 'subscriber_id', 'amount'])
    op.create_index('ix_usage_subscriber_at', 'usage_events', ['subscriber_id', 'at'])
    op.create_table('static_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('branch', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('static_list_members',
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['static_lists.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('list_id', 'msisdn')
    )
    op.create_index('ix_inbound_source_at', 'inbound_messages', ['source', 'received_at'])


def downgrade() -> None:
    op.drop_index('ix_inbound_source_at', table_name='inbound_messages')
    op.drop_table('static_list_members')
    op.drop_table('static_lists')
    op.drop_index('ix_usage_subscriber_at', table_name='usage_events')
    op.drop_index('ix_usage_kind_at', table_name='usage_events')
    op.drop_table('usage_events')
    op.drop_index('ix_subscriber_tags_tag', table_name='subscriber_tags')
    op.drop_table('subscriber_tags')
    with op.batch_alter_table('campaigns') as batch:
        batch.drop_column('branch')
    with op.batch_alter_table('segments') as batch:
        batch.drop_column('branch')
    with op.batch_alter_table('subscribers') as batch:
        for column in reversed(_subscriber_columns()):
            batch.drop_column(column.name)
