"""The campaign wizard's key (a campaign created twice from the same wizard, by Back then Create or a
second click, is the one campaign: campaigns.creation_key, unique per creator) and each user's own
time zone, in which the pages show times (users.timezone; none: the installation's)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.add_column(sa.Column('creation_key', sa.String(length=64), nullable=True))
    op.create_index('ix_campaigns_creation_key', 'campaigns', ['created_by', 'creation_key'], unique=True,
                    postgresql_where=sa.text('creation_key IS NOT NULL'),
                    sqlite_where=sa.text('creation_key IS NOT NULL'))
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('timezone')
    op.drop_index('ix_campaigns_creation_key', table_name='campaigns')
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.drop_column('creation_key')
