"""An MO names the campaign it replied to (keywords/handling.py), so that the inbound page finds a
campaign's replies by an index, not by reading the events

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_messages') as batch_op:
        batch_op.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
    op.create_index('ix_inbound_campaign', 'inbound_messages', ['campaign_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_inbound_campaign', table_name='inbound_messages')
    with op.batch_alter_table('inbound_messages') as batch_op:
        batch_op.drop_column('campaign_id')
