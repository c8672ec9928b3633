"""Bulk INSERT at the driver's level: multi-row VALUES statements on SQLite, one COPY on PostgreSQL.

SQLAlchemy's Core executemany processes every parameter of every row in Python (the bind
processors, the Python-side column defaults, the parameter dictionaries). A batch of new records
mostly holds plain values the driver takes as they are, and its defaults (`created_at`, ...) are
the same for the whole batch: here each column is converted once per batch with the column type's
own bind processor (so what is stored is exactly what a Core insert stores), only where the column
has one, and timestamps once per distinct value (a bulk load's
stamps are mostly one). No ORM event sees these rows: the caller routes them (outbox) and tells
the datastore's insert hooks (`Database.inserted`: lead scoring).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Column, Connection, DateTime, Table, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows` (column key -> value) into `table` inside the connection's transaction.

    Columns a row leaves out take their Python-side default (computed once for the batch) or the
    database's; a key that is not a column is an error, as in a Core insert."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for keys, group in groups.items():
        insert_columns(connection, table, len(group), {key: [row[key] for row in group] for key in keys})


def insert_columns(connection: Connection, table: Table, count: int, columns: Mapping[str, Sequence[Any]],
                   constants: Mapping[str, Any] | None = None) -> None:
    """INSERT `count` rows given column by column: `columns` one value per row for each column key,
    `constants` one value for every row (converted once). Left-out columns as in `insert_rows`."""
    if not count:
        return
    constants = constants or {}
    chosen, head, row = _plan(table, frozenset(columns) | frozenset(constants), connection.dialect)
    values = [_column_values(connection, c, count, columns, constants) for c in chosen]
    dbapi = connection.dialect.dbapi
    try:
        if connection.dialect.name == "postgresql":
            _copy(connection, table, list(chosen), list(zip(*values)))
        else:
            _insert_values(connection, head, row, count, values)
    except dbapi.Error as exc:  # raised as a Core insert raises it (IntegrityError, ...), parameters left out
        raise DBAPIError.instance(f"bulk INSERT INTO {table.name}", None, exc, dbapi.Error, hide_parameters=True,
                                  dialect=connection.dialect) from exc


SQLITE_VARIABLES = 32766
"""Parameters one SQLite statement may carry (SQLITE_MAX_VARIABLE_NUMBER since 3.32; a build's own
limit, when lower, wins)."""


def _insert_values(connection: Connection, head: str, row: str, count: int, values: list[Sequence[Any]]) -> None:
    """SQLite: multi-row `INSERT ... VALUES (...), (...)` statements, as many rows each as the
    parameter limit allows (a 2,000-row batch is one statement), in the connection's transaction.

    Not the DBAPI's executemany: sqlite3 releases the interpreter lock around every row's step, so
    with another thread busy (the pull's read-ahead parsing the next page) each row waits to get it
    back, and a batch took two to three times as long; one statement steps once."""
    driver = connection.connection.driver_connection
    assert driver is not None
    width = len(values)
    limit = min(SQLITE_VARIABLES, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    per = max(1, min(count, limit // width))
    flat: list[Any] = [None] * (count * width)
    for position, column_values in enumerate(values):
        flat[position::width] = column_values if isinstance(column_values, list) else list(column_values)
    cursor = driver.cursor()
    try:
        for start in range(0, count, per):
            rows = min(per, count - start)
            cursor.execute(head + ", ".join([row] * rows), flat[start * width:(start + rows) * width])
    finally:
        cursor.close()


@functools.lru_cache(maxsize=256)
def _plan(table: Table, given: frozenset[str], dialect: Dialect) -> tuple[tuple[Column[Any], ...], str, str]:
    """The columns an insert of the `given` keys writes (those, and the left-out ones with a
    Python-side default), its SQLite statement's head (`INSERT INTO t (...) VALUES `) and one row's
    placeholders; checked and built once per table and set of keys (every lead distributed writes
    the same few)."""
    unknown = given - set(table.c.keys())
    if unknown:
        raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
    unbatched = [c.key for c in table.columns if c.key not in given and _has_sql_default(c)]
    if unbatched:
        raise ValueError(f"{table.name}: column(s) {unbatched} have a SQL expression default, which a bulk "
                         f"insert does not compute; give them a value in every row")
    chosen = tuple(c for c in table.columns if c.key in given or _batch_default(c) is not None)
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.quote(c.name) for c in chosen)
    marks = ", ".join("?" for _ in chosen)
    return chosen, f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES ", f"({marks})"


def _has_sql_default(column: Column[Any]) -> bool:
    """The column's client-side default is a SQL expression (rendered into a Core insert's SQL),
    which neither executemany parameters nor COPY data can carry."""
    return column.default is not None and column.default.is_clause_element


def _batch_default(column: Column[Any]) -> Callable[[], Any] | None:
    """How to compute a left-out column's Python-side default once for the batch (None: it has
    none, the database fills it in). SQL expression defaults are refused before this is asked."""
    default: Any = column.default
    if default is None or default.is_sequence or default.is_clause_element:
        return None
    if default.is_callable:
        return lambda: default.arg(None)
    return lambda: default.arg


def _column_values(connection: Connection, column: Column[Any], count: int, columns: Mapping[str, Sequence[Any]],
                  constants: Mapping[str, Any]) -> Sequence[Any]:
    """One column's driver values for the rows, through the type's bind processor where it has one."""
    process = _processor(connection, column)
    key = column.key
    if key not in columns:
        if key in constants:
            value = constants[key]
        else:
            compute = _batch_default(column)
            assert compute is not None
            value = compute()
        return [process(value) if process else value] * count
    raw = columns[key]
    if len(raw) != count:
        raise ValueError(f"{column.table.name}.{column.name}: {len(raw)} values for {count} rows")
    if process is None:
        return raw
    if not _is_timestamp(column):
        return [process(v) for v in raw]
    converted = {v: process(v) for v in set(raw)}  # equal instants are stored alike
    return [converted[v] for v in raw]


def _processor(connection: Connection, column: Column[Any]) -> Callable[[Any], Any] | None:
    """The column type's own bind processor. PostgreSQL JSON: its text, as the driver would send it
    (SQLAlchemy hands psycopg a `Json` wrapper, whose per-row adaptation in a COPY costs twice the
    serialising)."""
    process = column.type._cached_bind_processor(connection.dialect)  # noqa: SLF001 (the type's own conversion)
    if process is None or connection.dialect.name != "postgresql" or not isinstance(column.type, JSON):
        return process
    dumps = getattr(connection.dialect, "_json_serializer", None) or json.dumps
    wrapped = process
    none_is_json = not column.type.none_as_null

    def as_text(value: Any) -> Any:
        if type(value) is dict or (value is None and none_is_json):  # as the processor sends it, unwrapped
            return dumps(value)
        driver_value = wrapped(value)
        return None if driver_value is None else dumps(driver_value.obj)

    return as_text


def _is_timestamp(column: Column[Any]) -> bool:
    """The column stores date-times (directly or through a TypeDecorator such as UTCDateTime)."""
    column_type = column.type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    return isinstance(column_type, DateTime)


def _copy(connection: Connection, table: Table, columns: list[Column[Any]], tuples: list[tuple[Any, ...]]) -> None:
    """PostgreSQL: COPY ... FROM STDIN through psycopg, in the connection's transaction."""
    preparer = connection.dialect.identifier_preparer
    names = ", ".join(preparer.quote(c.name) for c in columns)
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        with cursor.copy(f"COPY {preparer.format_table(table)} ({names}) FROM STDIN") as copy:
            for row in tuples:
                copy.write_row(row)
