"""lead scoring rules and the high-score threshold; drift results

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'scoring_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('event', sa.String(length=20), nullable=True),
        sa.Column('field', sa.String(length=20), nullable=True),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.Column('min_value', sa.Integer(), nullable=True),
        sa.Column('max_value', sa.Integer(), nullable=True),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('(event IS NULL) <> (field IS NULL)', name=op.f('ck_scoring_rules_event_or_field')),
        sa.CheckConstraint("event IS NULL OR event IN ('call', 'email', 'meeting', 'form', 'campaign_response')",
                           name=op.f('ck_scoring_rules_event')),
        sa.CheckConstraint("field IS NULL OR field IN ('title', 'industry', 'size', 'source')",
                           name=op.f('ck_scoring_rules_field')),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_scoring_rules_campaign_id_campaigns'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scoring_rules')),
        sa.UniqueConstraint('name', name=op.f('uq_scoring_rules_name')),
    )
    op.create_index(op.f('ix_scoring_rules_updated_at'), 'scoring_rules', ['updated_at'], unique=False)
    op.create_table(
        'scoring_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('high_score_threshold', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scoring_settings')),
    )
    op.create_table(
        'drift_results',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('connection', sa.String(length=80), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('in_sync', sa.Boolean(), nullable=False),
        sa.Column('report', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drift_results')),
    )
    op.create_index('ix_drift_results_connection', 'drift_results', ['connection', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_drift_results_connection', table_name='drift_results')
    op.drop_table('drift_results')
    op.drop_table('scoring_settings')
    op.drop_index(op.f('ix_scoring_rules_updated_at'), table_name='scoring_rules')
    op.drop_table('scoring_rules')
