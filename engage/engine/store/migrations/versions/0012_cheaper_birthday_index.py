"""a cheaper birthday index: one integer key month * 100 + day (PostgreSQL)

0005 said its index on (EXTRACT(month FROM birth_date), EXTRACT(day FROM birth_date)) "costs
writers nothing" because birth_date hardly ever changes. That is wrong: every inserted row is
indexed, and a subscriber import re-writes every row. Since PostgreSQL 14 EXTRACT returns numeric,
which is slow to compute and to compare: INSERT ... SELECT of 1M subscribers took 4.5 s without the
index and 10.3 s with it (~5.8 s per million rows, paid on every import). An index on an int or
float expression costs ~3.5 s: date_part() returns double precision, and
((date_part('month', birth_date) * 100 + date_part('day', birth_date))::int) measured 8.0 s.

One integer key (31 December = 1231) is chosen over two date_part columns because the criterion
(segments/kinds/dates.py, birthday_within) can state any window as ranges of it: a window is a run
of consecutive calendar days, so it is one range `key BETWEEN a AND b`, or two when it crosses the
new year (1228..1231 OR 101..102); keys that are no date (132..200) match no row. The index is also
a third of the size (one int4 instead of two numerics). The criterion must write exactly this
expression, or the planner cannot use the index; tests/test_birthday_index.py checks the plan.

Still PostgreSQL only, still partial (subscribers without a birth date are not indexed).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BIRTHDAY = 'ix_subscribers_birthday'
# the same text as dates.py's birthday_key compiles to on PostgreSQL
KEY = "(CAST(date_part('month', birth_date) * 100 + date_part('day', birth_date) AS INTEGER))"


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade() -> None:
    if _postgres():
        op.drop_index(BIRTHDAY, table_name='subscribers')
        op.create_index(BIRTHDAY, 'subscribers', [sa.text(KEY)], postgresql_where=sa.text('birth_date IS NOT NULL'))


def downgrade() -> None:
    if _postgres():
        op.drop_index(BIRTHDAY, table_name='subscribers')
        op.create_index(BIRTHDAY, 'subscribers',
                        [sa.text('(EXTRACT(month FROM birth_date))'), sa.text('(EXTRACT(day FROM birth_date))')],
                        postgresql_where=sa.text('birth_date IS NOT NULL'))
