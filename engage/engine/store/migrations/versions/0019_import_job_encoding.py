"""import_jobs.encoding: the encoding a person gave for an uploaded CSV (cp1251, latin-1, ...), as
`engage import subscribers --encoding` gives it on the command line; NULL: found from the file

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_jobs') as batch_op:
        batch_op.add_column(sa.Column('encoding', sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_jobs') as batch_op:
        batch_op.drop_column('encoding')
