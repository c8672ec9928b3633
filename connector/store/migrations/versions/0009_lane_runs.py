"""the last run of each lane (lane state, metrics, readiness)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'lane_runs',
        sa.Column('lane', sa.String(length=200), nullable=False),
        sa.Column('connection', sa.String(length=80), nullable=True),
        sa.Column('outcome', sa.String(length=10), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('consecutive_failures', sa.Integer(), nullable=False),
        sa.Column('resumes_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('records_read', sa.Integer(), nullable=False),
        sa.Column('records_written', sa.Integer(), nullable=False),
        sa.Column('records_failed', sa.Integer(), nullable=False),
        sa.Column('api_calls', sa.Integer(), nullable=False),
        sa.Column('quota_used', sa.Integer(), nullable=True),
        sa.Column('quota_limit', sa.Integer(), nullable=True),
        sa.Column('rate_remaining', sa.Integer(), nullable=True),
        sa.Column('rate_limit', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('lane'),
    )


def downgrade() -> None:
    op.drop_table('lane_runs')
