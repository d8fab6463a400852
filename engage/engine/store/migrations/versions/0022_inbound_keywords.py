"""MOs are handled by keywords/: what each was read as, which earlier MO it repeats, and an index
on those still to handle; opt-outs indexed by when, for the senders' look at recent ones

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_messages') as batch_op:
        batch_op.add_column(sa.Column('keyword', sa.String(32), nullable=True))
        batch_op.add_column(sa.Column('duplicate_of', sa.BigInteger(), nullable=True))
    op.create_index('ix_inbound_unhandled', 'inbound_messages', ['id'], postgresql_where=sa.text('NOT handled'),
                    sqlite_where=sa.text('NOT handled'))
    op.create_index('ix_opt_outs_created_at', 'opt_outs', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_opt_outs_created_at', table_name='opt_outs')
    op.drop_index('ix_inbound_unhandled', table_name='inbound_messages')
    with op.batch_alter_table('inbound_messages') as batch_op:
        batch_op.drop_column('duplicate_of')
        batch_op.drop_column('keyword')
