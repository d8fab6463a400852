"""USSD: menus on service codes, gateways, and the sessions of subscribers walking a menu

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ussd_menus',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('name', sa.String(length=100), nullable=False),
                    sa.Column('code', sa.String(length=32), nullable=False),
                    sa.Column('document', sa.Text(), nullable=False),
                    sa.Column('compiled', sa.JSON(), nullable=False),
                    sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.text('true')),
                    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False,
                              server_default=sa.func.now()),
                    sa.Column('updated_by', sa.String(length=200), nullable=True),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('name'))
    op.create_index('ux_ussd_menus_active_code', 'ussd_menus', ['code'], unique=True,
                    postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    op.create_table('ussd_gateways',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('name', sa.String(length=100), nullable=False),
                    sa.Column('kind', sa.String(length=32), nullable=False),
                    sa.Column('config', sa.JSON(), nullable=False),
                    sa.Column('token', sa.String(length=64), nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False,
                              server_default=sa.func.now()),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('name'),
                    sa.UniqueConstraint('token'))
    op.create_table('ussd_sessions',
                    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    sa.Column('gateway_id', sa.Integer(), nullable=False),
                    sa.Column('session_key', sa.String(length=128), nullable=False),
                    sa.Column('msisdn', sa.String(length=32), nullable=False),
                    sa.Column('code', sa.String(length=32), nullable=False),
                    sa.Column('menu_id', sa.Integer(), nullable=True),
                    sa.Column('screen', sa.String(length=64), nullable=True),
                    sa.Column('page', sa.Integer(), nullable=False, server_default='0'),
                    sa.Column('history', sa.JSON(), nullable=False),
                    sa.Column('values', sa.JSON(), nullable=False),
                    sa.Column('visited', sa.JSON(), nullable=False),
                    sa.Column('language', sa.String(length=8), nullable=True),
                    sa.Column('last_request', sa.String(length=128), nullable=True),
                    sa.Column('last_answer', sa.Text(), nullable=True),
                    sa.Column('last_ends', sa.Boolean(), nullable=False, server_default=sa.text('false')),
                    sa.Column('end_reason', sa.String(length=16), nullable=True),
                    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False,
                              server_default=sa.func.now()),
                    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False,
                              server_default=sa.func.now()),
                    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('gateway_id', 'session_key', name='uq_ussd_sessions_key'))
    op.create_index('ix_ussd_sessions_open', 'ussd_sessions', ['updated_at'],
                    postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))
    op.create_index('ix_ussd_sessions_menu_started', 'ussd_sessions', ['menu_id', 'started_at'])


def downgrade() -> None:
    op.drop_index('ix_ussd_sessions_menu_started', table_name='ussd_sessions')
    op.drop_index('ix_ussd_sessions_open', table_name='ussd_sessions')
    op.drop_table('ussd_sessions')
    op.drop_table('ussd_gateways')
    op.drop_index('ux_ussd_menus_active_code', table_name='ussd_menus')
    op.drop_table('ussd_menus')
