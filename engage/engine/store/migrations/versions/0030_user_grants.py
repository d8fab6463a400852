"""Each user's grants: rights given one by one beyond their role (engine.users.grants; the first,
"analytics", lets a marketer read the effectiveness reports). users.grants is a JSON list of names;
none: the role's rights only

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('grants', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('grants')
