"""the directory's partner products and group criteria

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('partner_accounts') as batch:
        batch.add_column(sa.Column('products', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('partner_groups') as batch:
        batch.add_column(sa.Column('criteria', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('partner_groups') as batch:
        batch.drop_column('criteria')
    with op.batch_alter_table('partner_accounts') as batch:
        batch.drop_column('products')
