"""templates.branch: templates are scoped by branch as segments are; campaigns.submitted_content:
what a campaign's submission put before its approver (template variants, segment definitions,
sender, schedule, rules), compared when a run launches so that only what was approved is sent

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('templates') as batch_op:
        batch_op.add_column(sa.Column('branch', sa.String(64), nullable=True))
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.add_column(sa.Column('submitted_content', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.drop_column('submitted_content')
    with op.batch_alter_table('templates') as batch_op:
        batch_op.drop_column('branch')
