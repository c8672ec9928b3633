"""partner users' API keys looked up by their hash

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 09:20:00
"""

from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_partner_users_api_key_hash'), 'partner_users', ['api_key_hash'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_partner_users_api_key_hash'), table_name='partner_users')
