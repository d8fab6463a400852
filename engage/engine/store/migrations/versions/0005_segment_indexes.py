"""segment indexes: birthdays by month and day (PostgreSQL)

"Birthday within N days" compares EXTRACT(month/day FROM birth_date) with the window's days, which
no plain index on birth_date can serve: at a million subscribers that was a full scan of the
table for ~2% of it. An expression index on exactly those expressions (as SQLAlchemy writes them)
turns it into a bitmap scan of the matching rows. birth_date hardly ever changes, so the index
costs writers nothing. PostgreSQL only: SQLite bases are small, and its EXTRACT compiles to a
different expression.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BIRTHDAY = 'ix_subscribers_birthday'


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade() -> None:
    if _postgres():
        op.create_index(BIRTHDAY, 'subscribers',
                        [sa.text('(EXTRACT(month FROM birth_date))'), sa.text('(EXTRACT(day FROM birth_date))')],
                        postgresql_where=sa.text('birth_date IS NOT NULL'))


def downgrade() -> None:
    if _postgres():
        op.drop_index(BIRTHDAY, table_name='subscribers')
