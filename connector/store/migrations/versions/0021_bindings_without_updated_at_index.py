"""bindings: no index on updated_at (nothing reads bindings by it; every binding written paid for it)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 19:40:00
"""

from __future__ import annotations

from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_bindings_updated_at', table_name='bindings')


def downgrade() -> None:
    op.create_index('ix_bindings_updated_at', 'bindings', ['updated_at'], unique=False)
