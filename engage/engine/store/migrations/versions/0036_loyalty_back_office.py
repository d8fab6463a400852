"""The loyalty back office: a person's adjustments (waiting for a second person above the programme's
threshold), bulk point loads and their rows with what is wrong with each, and the "points will expire"
notices sent.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = '0036'
down_revision = '0035'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('loyalty_adjustments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('requested_by', sa.String(length=128), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=200), nullable=True),
    sa.Column('entry_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_loyalty_adjustments_member', 'loyalty_adjustments', ['member_id', 'id'], unique=False)
    op.create_index('ix_loyalty_adjustments_state', 'loyalty_adjustments', ['programme_id', 'state', 'id'],
                    unique=False)
    op.create_table('loyalty_expiry_notices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('member_id', 'expires_on')
    )
    op.create_table('loyalty_load_rows',
    sa.Column('load_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('line', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('msisdn', sa.String(length=32), nullable=True),
    sa.Column('member_id', sa.BigInteger(), nullable=True),
    sa.Column('points', sa.BigInteger(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('problem', sa.String(length=200), nullable=True),
    sa.Column('entry_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('load_id', 'line')
    )
    op.create_table('loyalty_loads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_good', sa.Integer(), nullable=False),
    sa.Column('rows_bad', sa.Integer(), nullable=False),
    sa.Column('points_total', sa.BigInteger(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=128), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=200), nullable=True),
    sa.Column('rows_posted', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('programme_id', 'sha256')
    )
    op.create_index('ix_loyalty_loads_state', 'loyalty_loads', ['programme_id', 'state', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_loyalty_loads_state', table_name='loyalty_loads')
    op.drop_table('loyalty_loads')
    op.drop_table('loyalty_load_rows')
    op.drop_table('loyalty_expiry_notices')
    op.drop_index('ix_loyalty_adjustments_state', table_name='loyalty_adjustments')
    op.drop_index('ix_loyalty_adjustments_member', table_name='loyalty_adjustments')
    op.drop_table('loyalty_adjustments')
