"""a subscriber's message history by number; import jobs' heartbeat

ix_messages_msisdn_id serves the subscriber page and the support desk (newest messages of one
number) without scanning every message. import_jobs.updated_at is touched at each chunk, so a job
whose web process died is told from one that is still working.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_messages_msisdn_id', 'messages', ['msisdn', 'id'])
    op.add_column('import_jobs', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('import_jobs', 'updated_at')
    op.drop_index('ix_messages_msisdn_id', table_name='messages')
