"""partner directory version; folded account-name index for the named-account match; when each
sync cursor last read the delete log

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 18:40:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('directory_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_version'))
    )
    # a token of its own per database: a process caching several databases' directories never mixes them
    op.execute(f"INSERT INTO directory_version (id, token) VALUES (1, '{uuid.uuid4().hex}')")
    op.create_index('ix_accounts_name_folded', 'accounts', [sa.text('lower(name)')], unique=False)
    with op.batch_alter_table('sync_cursors') as batch_op:
        batch_op.add_column(sa.Column('deletes_checked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sync_cursors') as batch_op:
        batch_op.drop_column('deletes_checked_at')
    op.drop_index('ix_accounts_name_folded', table_name='accounts')
    op.drop_table('directory_version')
