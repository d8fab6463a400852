"""subscriber tags without a foreign key

Checking the key cost two thirds of storing tags in an import (a row lock on the subscriber per
tag row), for rows whose subscriber ids come from the upsert in the same transaction. Tags are
removed with their subscriber by engine.subscribers.storage.delete_subscribers, as usage events
(which never had the key) are.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('subscriber_tags_subscriber_id_fkey', 'subscriber_tags', type_='foreignkey')
        return
    with op.batch_alter_table('subscriber_tags', naming_convention=SQLITE_NAMES) as batch:
        batch.drop_constraint('fk_subscriber_tags_subscriber_id_subscribers', type_='foreignkey')


def downgrade() -> None:
    op.execute("DELETE FROM subscriber_tags WHERE subscriber_id NOT IN (SELECT id FROM subscribers)")
    with op.batch_alter_table('subscriber_tags') as batch:
        batch.create_foreign_key('subscriber_tags_subscriber_id_fkey', 'subscribers', ['subscriber_id'], ['id'],
                                 ondelete='CASCADE')
