"""ix_messages_awaiting_receipt: submitted messages by provider and submit time, for the sweeper's
receipt timeout (receipts.timeouts), which ends as `unconfirmed` those whose receipt never came

Partial (status = 'submitted'): it holds only the messages waiting for their receipt, a few seconds'
worth while receipts flow, and the sweep reads only its oldest end, never the messages table.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

AWAITING = "status = 'submitted'"


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_awaiting_receipt', ['provider_id', 'submitted_at'], unique=False,
                              postgresql_where=sa.text(AWAITING), sqlite_where=sa.text(AWAITING))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_awaiting_receipt')
