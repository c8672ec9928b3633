"""partner connections held in the datastore

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'partner_connections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('partner_account_id', sa.Integer(), nullable=False),
        sa.Column('adapter', sa.String(length=80), nullable=False),
        sa.Column('profile', sa.String(length=1000), nullable=False),
        sa.Column('schedule', sa.JSON(), nullable=False),
        sa.Column('instance_url', sa.String(length=1000), nullable=True),
        sa.Column('auth', sa.JSON(), nullable=False),
        sa.Column('options', sa.JSON(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['partner_account_id'], ['partner_accounts.id'],
                                name=op.f('fk_partner_connections_partner_account_id_partner_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_connections')),
        sa.UniqueConstraint('name', name=op.f('uq_partner_connections_name')),
    )
    op.create_index(op.f('ix_partner_connections_partner_account_id'), 'partner_connections',
                    ['partner_account_id'], unique=False)
    op.create_index(op.f('ix_partner_connections_updated_at'), 'partner_connections', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_partner_connections_updated_at'), table_name='partner_connections')
    op.drop_index(op.f('ix_partner_connections_partner_account_id'), table_name='partner_connections')
    op.drop_table('partner_connections')
