"""Loyalty earning rules, versioned (an event is scored by the version in force when it happened),
each member's carried remainder and cap counters per rule, and the usage records already scored.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('loyalty_carry',
    sa.Column('member_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('rule_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('carried', sa.Float(), nullable=False),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('day_points', sa.BigInteger(), nullable=False),
    sa.Column('month', sa.Date(), nullable=True),
    sa.Column('month_points', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('member_id', 'rule_id')
    )
    op.create_table('loyalty_rule_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('rule_id', 'version')
    )
    op.create_table('loyalty_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('programme_id', 'code')
    )
    op.create_table('loyalty_usage_seen',
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('source', 'ref')
    )


def downgrade() -> None:
    op.drop_table('loyalty_usage_seen')
    op.drop_table('loyalty_rules')
    op.drop_table('loyalty_rule_versions')
    op.drop_table('loyalty_carry')
