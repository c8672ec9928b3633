"""partner names unique in the datastore (two replicas seeding the directory at once)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 07:00:00

Data-safe: a name held by several partners (possible before this revision) stays with the oldest
(lowest id); each later one is renamed "NAME (partner ID)" and listed on stderr, so nothing is
lost and the operator can merge or rename them. Then the unique index.
"""

from __future__ import annotations

import sys

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

NAME_LENGTH = 255


def upgrade() -> None:
    connection = op.get_bind()
    partners = sa.table('partner_accounts', sa.column('id', sa.Integer()), sa.column('name', sa.String()))
    shared = sa.select(partners.c.name).group_by(partners.c.name).having(sa.func.count() > 1)
    duplicates = connection.execute(
        sa.select(partners.c.id, partners.c.name).where(partners.c.name.in_(shared))
        .order_by(partners.c.name, partners.c.id)).all()
    kept: set[str] = set()
    for partner_id, name in duplicates:
        if name not in kept:
            kept.add(name)
            continue
        suffix = f" (partner {partner_id})"
        renamed = name[:NAME_LENGTH - len(suffix)] + suffix
        connection.execute(sa.update(partners).where(partners.c.id == partner_id).values(name=renamed))
        print(f"migration 0019: partner {partner_id} shared the name {name!r}; renamed {renamed!r}", file=sys.stderr)
    op.create_index(op.f('ix_partner_accounts_name'), 'partner_accounts', ['name'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_partner_accounts_name'), table_name='partner_accounts')
