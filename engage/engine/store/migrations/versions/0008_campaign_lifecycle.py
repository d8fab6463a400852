"""campaign lifecycle: schedules, runs, quiet hours, pacing, caps, control groups, A/B, approval

A campaign gets its schedule (now, at a time, recurring), its sending rules (recipient-local time,
quiet hours, a per-run deadline, a maximum rate, a frequency cap, a control share, A/B arms, a
cap on parts) and the approval trail. Each occurrence is a row of campaign_runs, unique per
(campaign, scheduled time) so that two schedulers racing launch it once. Messages know their run
and arm; `held` messages wait for their not_before (recipient-local time, quiet hours), found by
a small partial index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

CAMPAIGN_COLUMNS = [
    sa.Column('kind', sa.String(length=16), nullable=False, server_default='marketing'),
    sa.Column('schedule', sa.JSON(), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('local_time', sa.String(length=5), nullable=True),
    sa.Column('quiet_hours', sa.String(length=11), nullable=True),
    sa.Column('deadline_minutes', sa.Integer(), nullable=True),
    sa.Column('max_rate', sa.Integer(), nullable=True),
    sa.Column('cap', sa.JSON(), nullable=True),
    sa.Column('control_share', sa.Float(), nullable=False, server_default='0'),
    sa.Column('seed', sa.Integer(), nullable=False, server_default='1'),
    sa.Column('arms', sa.JSON(), nullable=True),
    sa.Column('max_parts', sa.SmallInteger(), nullable=True),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_by', sa.String(length=200), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.String(length=200), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
]


def upgrade() -> None:
    with op.batch_alter_table('campaigns') as batch:
        for column in CAMPAIGN_COLUMNS:
            batch.add_column(column)
        batch.create_index('ix_campaigns_next_run', ['status', 'next_run_at'])
    op.create_table('campaign_runs',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('campaign_id', sa.Integer(), nullable=False),
                    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('status', sa.String(length=16), nullable=False),
                    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('audience_size', sa.Integer(), nullable=True),
                    sa.Column('set_aside', sa.JSON(), nullable=True),
                    sa.Column('note', sa.String(length=300), nullable=True),
                    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id']),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('campaign_id', 'scheduled_for', name='uq_runs_campaign_time'))
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('run_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('arm', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_messages_held', 'messages', ['not_before'],
                    postgresql_where=sa.text("status = 'held'"), sqlite_where=sa.text("status = 'held'"))


def downgrade() -> None:
    op.drop_index('ix_messages_held', table_name='messages')
    with op.batch_alter_table('messages') as batch:
        for name in ('not_before', 'arm', 'run_id'):
            batch.drop_column(name)
    op.drop_table('campaign_runs')
    with op.batch_alter_table('campaigns') as batch:
        batch.drop_index('ix_campaigns_next_run')
        for column in reversed(CAMPAIGN_COLUMNS):
            batch.drop_column(column.name)
