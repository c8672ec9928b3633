"""covering indexes for the reports' prospect scans

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_prospects_report_created", "created_at",
     ("partner_account_id", "assigned_at", "accepted_at", "converted_at"), "archived_at IS NULL"),
    ("ix_prospects_report_assigned", "assigned_at",
     ("partner_account_id", "segment", "company_employees", "accepted_at", "converted_at"),
     "archived_at IS NULL AND assigned_at IS NOT NULL"),
    ("ix_prospects_report_accepted", "accepted_at", ("partner_account_id", "assigned_user_id"),
     "archived_at IS NULL AND accepted_at IS NOT NULL"),
)


def upgrade() -> None:
    for name, column, include, where in INDEXES:
        op.create_index(name, 'prospects', [column], postgresql_include=list(include),
                        postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def downgrade() -> None:
    for name, _column, _include, _where in INDEXES:
        op.drop_index(name, table_name='prospects')
