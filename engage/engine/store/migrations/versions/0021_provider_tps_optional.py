"""providers.tps may be NULL: no rate is configured (`engage provider add --tps none`), and the
sender finds the rate the provider accepts from its answers, as it does when the configured one
is wrong

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('providers') as batch_op:
        batch_op.alter_column('tps', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE providers SET tps = 100 WHERE tps IS NULL")
    with op.batch_alter_table('providers') as batch_op:
        batch_op.alter_column('tps', existing_type=sa.Integer(), nullable=False)
