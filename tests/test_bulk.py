"""The driver-level bulk insert (`store.bulk`) stores exactly what a SQLAlchemy Core insert stores."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select, text
from sqlalchemy.types import UserDefinedType

from connector.store import Database
from connector.store.bindings import Binding
from connector.store.bulk import insert_columns, insert_rows
from connector.store.records import Opportunity

PARIS = timezone(timedelta(hours=1))


def stored(db: Database, table: str, ids: list[int]) -> list[tuple[Any, ...]]:
    """The rows as the database holds them (no type processing on the way out), less id and the
    insert-time stamps."""
    with db.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} WHERE id IN ({', '.join(map(str, ids))}) ORDER BY id")).mappings()
        return [tuple(v for k, v in row.items() if k not in ("id", "created_at", "updated_at")) for row in rows]


def opportunities(first: int) -> list[dict[str, Any]]:
    return [
        {"id": first, "name": "Plain", "amount": Decimal("1500.50"), "expected_close_date": date(2026, 3, 1),
         "sales_stage": 3, "currency": "GBP", "description": "ünïcode\ttab\nline \\ back"},
        {"id": first + 1, "name": "Stamped", "amount": 12, "expected_close_date": None, "sales_stage": 1,
         "currency": "USD", "archived_at": datetime(2026, 3, 1, 13, 0, tzinfo=PARIS)},
        {"id": first + 2, "name": "Defaults"},
    ]


def test_rows_are_stored_as_a_core_insert_stores_them(db: Database) -> None:
    with db.engine.begin() as conn:
        for row in opportunities(1):
            conn.execute(insert(Opportunity.__table__), row)
        insert_rows(conn, Opportunity.__table__, opportunities(101))
    assert stored(db, "opportunities", [101, 102, 103]) == stored(db, "opportunities", [1, 2, 3])
    with db.session() as s:
        loaded = s.scalars(select(Opportunity).where(Opportunity.id > 100).order_by(Opportunity.id)).all()
    assert [o.amount for o in loaded] == [Decimal("1500.50"), Decimal("12"), Decimal("0")]
    assert loaded[1].archived_at == datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert loaded[2].currency == "USD" and loaded[2].sales_stage == 1 and loaded[2].archived_at is None
    assert all(o.created_at.tzinfo is timezone.utc and o.updated_at >= o.created_at for o in loaded)


def test_json_values_and_database_defaults(db: Database) -> None:
    at = datetime(2026, 5, 1, 8, 30, 0, 250, tzinfo=timezone.utc)
    rows = [{"connection": "c", "crm_object": "Contact", "crm_id": f"003{i}", "module": "contact", "record_id": i,
             "synced_values": {"email": f"p{i}@example.com", "score": 1.5, "tags": ["a", "é"], "none": None},
             "synced_at": at, "crm_modified_at": at if i % 2 else None} for i in range(1, 5)]
    with db.engine.begin() as conn:
        insert_rows(conn, Binding.__table__, rows)
    with db.session() as s:
        loaded = s.scalars(select(Binding).order_by(Binding.record_id)).all()
    assert [b.synced_values for b in loaded] == [r["synced_values"] for r in rows]
    assert [b.crm_modified_at for b in loaded] == [at, None, at, None]
    assert len({b.id for b in loaded}) == 4 and all(b.synced_at == at for b in loaded)


def test_naive_timestamps_and_unknown_columns_are_refused(db: Database) -> None:
    with db.engine.begin() as conn:
        with pytest.raises(ValueError, match="naive datetime"):
            insert_rows(conn, Opportunity.__table__, [{"name": "x", "archived_at": datetime(2026, 1, 1)}])
        with pytest.raises(KeyError, match="no_such_column"):
            insert_rows(conn, Opportunity.__table__, [{"name": "x", "no_such_column": 1}])


class Untyped(UserDefinedType[Any]):
    """A column type with no Python type (its `python_type` raises)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "TEXT"


def test_sql_expression_defaults_are_refused_and_types_without_a_python_type_pass(db: Database) -> None:
    table = Table("bulk_probe", MetaData(), Column("id", Integer, primary_key=True),
                  Column("label", Untyped()), Column("stamped", Text, default=func.lower("X")))
    with db.engine.begin() as conn:
        table.create(conn)
        try:
            with pytest.raises(ValueError, match=r"bulk_probe: column\(s\) \['stamped'\] have a SQL expression default"):
                insert_rows(conn, table, [{"id": 1, "label": "a"}])
            insert_rows(conn, table, [{"id": 2, "label": "b", "stamped": "given"}])
            assert conn.execute(select(table.c.id, table.c.label, table.c.stamped)).all() == [(2, "b", "given")]
        finally:
            table.drop(conn)
def test_columns_and_constants_are_stored_as_a_core_insert_stores_them(db: Database) -> None:
    """Column-wise input with per-batch constants (the pull's bindings), JSON text and JSON null
    included, is stored byte for byte as a Core insert of the same rows."""
    at = datetime(2026, 5, 1, 9, 30, 0, 250, tzinfo=PARIS)
    values = [{"email": "p1@example.com", "score": 1.5, "tags": ["a", "é"], "none": None}, None, {"k": "\\\t\n"}]
    constants = {"connection": "c", "crm_object": "Contact", "module": "contact", "synced_at": at}
    with db.engine.begin() as conn:
        for i, synced in enumerate(values, start=1):
            conn.execute(insert(Binding.__table__), {**constants, "id": i, "crm_id": f"003{i}", "record_id": i,
                                                     "synced_values": synced, "crm_modified_at": at if i % 2 else None})
        insert_columns(conn, Binding.__table__, 3, {
            "id": [101, 102, 103], "crm_id": ["013a", "013b", "013c"], "record_id": [101, 102, 103],
            "synced_values": values, "crm_modified_at": [at, None, at]}, constants=constants)
    with db.engine.connect() as conn:  # as stored (no type processing on the way out)
        rows = conn.execute(text("SELECT connection, crm_object, module, synced_hash, synced_values, synced_at, "
                                 "crm_modified_at FROM bindings ORDER BY id")).all()
    assert [tuple(r) for r in rows[3:]] == [tuple(r) for r in rows[:3]]
    with pytest.raises(ValueError, match="bindings.crm_id: 1 values for 2 rows"):
        with db.engine.begin() as conn:
            insert_columns(conn, Binding.__table__, 2, {"crm_id": ["x"], "record_id": [1, 2]}, constants=constants)


def test_a_batch_beyond_one_statements_parameters_is_stored_whole_and_in_order(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite packs as many rows in a statement as its parameter limit allows; a batch needing
    several statements (and a last, shorter one) keeps every row, in order, with consecutive ids
    (PostgreSQL's COPY has no such limit: the same batch, one COPY)."""
    monkeypatch.setattr("connector.store.bulk.SQLITE_VARIABLES", 25)  # bindings: 3 rows a statement
    constants = {"connection": "c", "crm_object": "Contact", "module": "contact"}
    with db.engine.begin() as conn:
        insert_columns(conn, Binding.__table__, 10, {
            "crm_id": [f"003{i}" for i in range(10)], "record_id": list(range(10)),
            "synced_values": [{"n": i} for i in range(10)]}, constants=constants)
    with db.engine.connect() as conn:
        rows = conn.execute(select(Binding.id, Binding.crm_id, Binding.record_id, Binding.synced_values)
                            .order_by(Binding.id)).all()
    assert [(r.crm_id, r.record_id, r.synced_values) for r in rows] == [(f"003{i}", i, {"n": i}) for i in range(10)]
    assert [r.id for r in rows] == list(range(rows[0].id, rows[0].id + 10))
