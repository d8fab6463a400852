"""Keywords: what each word texted to a short code does (STOP, START, HELP and the answer to an
unknown word are written on first use by engine/keywords/builtins.py, with their confirmations)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'keywords',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('word', sa.String(32), nullable=False),
        sa.Column('short_code', sa.String(32), nullable=False),
        sa.Column('aliases', sa.JSON(), nullable=False),
        sa.Column('steps', sa.JSON(), nullable=False),
        sa.Column('reply_template_id', sa.Integer(), nullable=True),
        sa.Column('builtin', sa.Boolean(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('updated_by', sa.String(128), nullable=False),
        sa.Column('updated_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('word', 'short_code'),
    )


def downgrade() -> None:
    op.drop_table('keywords')
