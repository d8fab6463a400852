"""api_tokens and import_jobs

API tokens belong to users and act with their role and branch (only a SHA-256 is kept).
import_jobs keeps a browser-started import's progress and report where every web process sees it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('user_id', sa.Integer(), nullable=False),
                    sa.Column('name', sa.String(length=100), nullable=False),
                    sa.Column('token_hash', sa.String(length=64), nullable=False),
                    sa.Column('prefix', sa.String(length=16), nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False,
                              server_default=sa.func.now()),
                    sa.Column('created_by', sa.String(length=254), nullable=True),
                    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
                    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('token_hash'))
    op.create_index('ix_api_tokens_user_id', 'api_tokens', ['user_id'])
    op.create_table('import_jobs',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('kind', sa.String(length=32), nullable=False),
                    sa.Column('filename', sa.String(length=255), nullable=False),
                    sa.Column('path', sa.Text(), nullable=False),
                    sa.Column('status', sa.String(length=16), nullable=False),
                    sa.Column('total_rows', sa.BigInteger(), nullable=True),
                    sa.Column('rows_read', sa.BigInteger(), nullable=False),
                    sa.Column('rows_imported', sa.BigInteger(), nullable=False),
                    sa.Column('rows_rejected', sa.BigInteger(), nullable=False),
                    sa.Column('report_path', sa.Text(), nullable=True),
                    sa.Column('error', sa.Text(), nullable=True),
                    sa.Column('created_by', sa.String(length=254), nullable=True),
                    sa.Column('branch', sa.String(length=64), nullable=True),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False,
                              server_default=sa.func.now()),
                    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
                    sa.PrimaryKeyConstraint('id'))


def downgrade() -> None:
    op.drop_table('import_jobs')
    op.drop_index('ix_api_tokens_user_id', table_name='api_tokens')
    op.drop_table('api_tokens')
