"""sync cursors: an opaque delete token for CRMs whose delete feed is addressed by token

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_cursors') as batch:
        batch.add_column(sa.Column('deletes_token', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sync_cursors') as batch:
        batch.drop_column('deletes_token')
