"""events.message_count: one event row for a change a whole batch of messages went through together

`engage bench send`, 400,000 messages on PostgreSQL: a row per message for each of queued, submitted
and delivered was 1.2 million event rows, 6.2 of PostgreSQL's 48.6 seconds of statement time and
233 of its 1,700 MB of WAL. A batch's event carries its messages' ids in data["message_ids"] and
their number here; the events written so far are one message each.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch_op:
        batch_op.add_column(sa.Column('message_count', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('events') as batch_op:
        batch_op.drop_column('message_count')
