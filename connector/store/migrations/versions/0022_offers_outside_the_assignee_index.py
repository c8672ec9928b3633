"""record_assignments: shark-tank offers marked (offered_until) and left out of the assignee index

A lead offered to fifty partners wrote fifty entries, each on another page of the assignee index;
offers are found through the pooled leads instead (connector.leads.visibility).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

ACTIVE_OFFERS = """
UPDATE record_assignments SET offered_until = (
    SELECT prospects.pool_until FROM prospects WHERE prospects.id = record_assignments.record_id)
WHERE record_module = 'prospect' AND assignee_type = 'account' AND revoked_at IS NULL
  AND record_id IN (SELECT id FROM prospects WHERE distribution_state = 'pool')
"""
"""The active offers of the leads in a shark tank now: before this revision every active account
grant of a pooled lead was an offer (the winner's turns into its holder's grant as it is claimed)."""


def upgrade() -> None:
    op.add_column('record_assignments', sa.Column('offered_until', sa.DateTime(timezone=True), nullable=True))
    op.execute(ACTIVE_OFFERS)
    op.drop_index('ix_record_assignments_assignee', table_name='record_assignments')
    op.create_index('ix_record_assignments_assignee', 'record_assignments', ['assignee_type', 'assignee_id'],
                    unique=False, sqlite_where=sa.text('offered_until IS NULL'),
                    postgresql_where=sa.text('offered_until IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_record_assignments_assignee', table_name='record_assignments')
    op.create_index('ix_record_assignments_assignee', 'record_assignments', ['assignee_type', 'assignee_id'],
                    unique=False)
    with op.batch_alter_table('record_assignments') as batch_op:
        batch_op.drop_column('offered_until')
