"""An MO keeps the id its gateway gave it (the JSON MO callback's id, Kannel's %I), so that the
gateway sending it again at any later time is known as a repeat (keywords/handling.py), not only
within the two minutes a repeat of the same text is looked for

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_messages') as batch_op:
        batch_op.add_column(sa.Column('provider_ref', sa.String(length=72), nullable=True))
    op.create_index('ix_inbound_provider_ref', 'inbound_messages', ['provider_id', 'provider_ref'],
                    postgresql_where=sa.text('provider_ref IS NOT NULL'),
                    sqlite_where=sa.text('provider_ref IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_inbound_provider_ref', table_name='inbound_messages')
    with op.batch_alter_table('inbound_messages') as batch_op:
        batch_op.drop_column('provider_ref')
