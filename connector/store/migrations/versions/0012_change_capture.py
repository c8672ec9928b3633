"""capture writes from other applications: the change log and, on PostgreSQL, its triggers

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None

CAPTURED = {
    'prospects': 'prospect', 'companies': 'company', 'contacts': 'contact', 'accounts': 'account',
    'opportunities': 'opportunity', 'line_items': 'line_item', 'registered_deals': 'registered_deal',
    'notes': 'note', 'tasks': 'task', 'campaigns': 'campaign',
}
"""The record tables whose writes are captured, and the module key each is logged under."""

FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.upm_capture_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('upm.origin', true), '') = 'connector' THEN
        RETURN NULL;  -- the connector's own write: its session hook queued it already
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO {schema}.upm_change_log (module, record_id, operation, created_at)
        VALUES (TG_ARGV[0], OLD.id, 'delete', now());
    ELSE
        INSERT INTO {schema}.upm_change_log (module, record_id, operation, created_at)
        VALUES (TG_ARGV[0], NEW.id, 'upsert', now());
    END IF;
    RETURN NULL;
END
$$
"""


def _schema() -> str:
    name = op.get_bind().execute(sa.text('SELECT current_schema()')).scalar_one()
    return '"' + name.replace('"', '""') + '"'


def upgrade() -> None:
    op.create_table(
        'upm_change_log',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('module', sa.String(length=40), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('operation', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_upm_change_log')),
    )
    op.create_index('ix_upm_change_log_pending', 'upm_change_log', ['processed_at', 'id'], unique=False)
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite: no per-connection origin a trigger could read; the table stays empty
    schema = _schema()
    op.execute(FUNCTION.format(schema=schema))
    for table, module in CAPTURED.items():
        op.execute(f"CREATE TRIGGER upm_capture AFTER INSERT OR UPDATE OR DELETE ON {schema}.{table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {schema}.upm_capture_change('{module}')")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        schema = _schema()
        for table in CAPTURED:
            op.execute(f'DROP TRIGGER IF EXISTS upm_capture ON {schema}.{table}')
        op.execute(f'DROP FUNCTION IF EXISTS {schema}.upm_capture_change()')
    op.drop_index('ix_upm_change_log_pending', table_name='upm_change_log')
    op.drop_table('upm_change_log')
