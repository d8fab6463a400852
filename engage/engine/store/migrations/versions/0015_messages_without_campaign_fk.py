"""messages.campaign_id without a foreign key: the launch's INSERT checked it once per row

EXPLAIN ANALYZE of launching a 1,000,000-recipient campaign on PostgreSQL: 45.7 s, of which the
trigger for constraint messages_campaign_id_fkey took 32.5 s (1,000,000 calls; the launch
transaction holds the campaign row locked, and every check locks it again). The only writer of
messages is the launch, which inserts them for the campaign it has just read and locked, and a
campaign that has messages is never deleted (only drafts are), so the check could never fail.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# SQLite's foreign key has no name; batch mode finds it under this convention
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('messages_campaign_id_fkey', 'messages', type_='foreignkey')
        return
    with op.batch_alter_table('messages', naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint('fk_messages_campaign_id_campaigns', type_='foreignkey')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.create_foreign_key('messages_campaign_id_fkey', 'messages', 'campaigns', ['campaign_id'], ['id'])
        return
    with op.batch_alter_table('messages', naming_convention=NAMING) as batch_op:
        batch_op.create_foreign_key('fk_messages_campaign_id_campaigns', 'campaigns', ['campaign_id'], ['id'])
