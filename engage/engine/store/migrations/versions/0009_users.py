"""users: accounts, sessions and sign-in attempts for the web UI

People sign in with an email and a password (argon2id hash only), have one role and optionally
one branch. A session row keeps the SHA-256 of the cookie's random token, never the token.
login_attempts records every attempt, so that the per-address limit holds across web processes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('users',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('email', sa.String(length=254), nullable=False),
                    sa.Column('name', sa.String(length=200), nullable=True),
                    sa.Column('role', sa.String(length=16), nullable=False),
                    sa.Column('branch', sa.String(length=64), nullable=True),
                    sa.Column('password_hash', sa.String(length=255), nullable=False),
                    sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.text('true')),
                    sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'),
                    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False,
                              server_default=sa.func.now()),
                    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('email'))
    op.create_table('sessions',
                    sa.Column('id', BigId, nullable=False),
                    sa.Column('token_hash', sa.String(length=64), nullable=False),
                    sa.Column('user_id', sa.Integer(), nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('ip', sa.String(length=45), nullable=True),
                    sa.Column('user_agent', sa.String(length=300), nullable=True),
                    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('token_hash'))
    op.create_index('ix_sessions_user_id', 'sessions', ['user_id'])
    op.create_index('ix_sessions_expires_at', 'sessions', ['expires_at'])
    op.create_table('login_attempts',
                    sa.Column('id', BigId, nullable=False),
                    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('ip', sa.String(length=45), nullable=True),
                    sa.Column('email', sa.String(length=254), nullable=True),
                    sa.Column('ok', sa.Boolean(), nullable=False),
                    sa.Column('reason', sa.String(length=16), nullable=True),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_login_attempts_ip_at', 'login_attempts', ['ip', 'at'])
    op.create_index('ix_login_attempts_email_at', 'login_attempts', ['email', 'at'])
    op.create_index('ix_login_attempts_at', 'login_attempts', ['at'])


def downgrade() -> None:
    op.drop_table('login_attempts')
    op.drop_table('sessions')
    op.drop_table('users')
