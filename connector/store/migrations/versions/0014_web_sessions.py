"""signatures seen (replay guard), browser sessions and sign-in links of the pages

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'seen_signatures',
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('connection', sa.String(length=80), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('digest', name=op.f('pk_seen_signatures')),
    )
    op.create_index(op.f('ix_seen_signatures_expires_at'), 'seen_signatures', ['expires_at'])
    op.create_table(
        'web_sessions',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('connection', sa.String(length=80), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('csrf', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['partner_users.id'], name=op.f('fk_web_sessions_user_id_partner_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_web_sessions')),
    )
    op.create_index(op.f('ix_web_sessions_expires_at'), 'web_sessions', ['expires_at'])
    op.create_table(
        'sign_in_links',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['partner_users.id'], name=op.f('fk_sign_in_links_user_id_partner_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_sign_in_links')),
    )


def downgrade() -> None:
    op.drop_table('sign_in_links')
    op.drop_index(op.f('ix_web_sessions_expires_at'), table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_index(op.f('ix_seen_signatures_expires_at'), table_name='seen_signatures')
    op.drop_table('seen_signatures')
