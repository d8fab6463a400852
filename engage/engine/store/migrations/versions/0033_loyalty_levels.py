"""Loyalty levels: when a member reached their level (loyalty_members.level_since), for the grace
period before a review may lower it (engine/loyalty/levels.py)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('loyalty_members') as batch_op:
        batch_op.add_column(sa.Column('level_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('loyalty_members') as batch_op:
        batch_op.drop_column('level_since')
