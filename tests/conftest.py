"""Shared fixtures: a migrated datastore on SQLite or PostgreSQL, chosen by UPM_TEST_DATABASE_URL.

- Unset: every test gets its own SQLite file.
- Set to a PostgreSQL URL: every test gets its own schema in that database (dropped afterwards).
Tests that need PostgreSQL whatever the run (multi-process leases) use `postgres_url`: it takes
UPM_TEST_DATABASE_URL when that is PostgreSQL, else the local default; on a user's machine without
PostgreSQL they are skipped, in CI (CI=true) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connector.store import Database
from connector.store.migrate import upgrade

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _configured_url() -> str | None:
    return os.environ.get("UPM_TEST_DATABASE_URL") or None


def _is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _postgres_base() -> str:
    url = _configured_url()
    return url if url and _is_postgres(url) else os.environ.get("UPM_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


def _postgres_reachable(url: str) -> str | None:
    try:
        engine = create_engine(Database(url).url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means "not available here"
        return f"{type(exc).__name__}: {exc}"


class PostgresSchema:
    """A throw-away schema in a PostgreSQL database; `url` selects it through search_path."""

    def __init__(self, base_url: str):
        self.base = Database(base_url).url
        self.name = f"t_{uuid.uuid4().hex[:12]}"
        self._engine = create_engine(self.base, isolation_level="AUTOCOMMIT")

    @property
    def url(self) -> str:
        return make_url(self.base).update_query_dict({"options": f"-csearch_path={self.name}"}).render_as_string(
            hide_password=False
        )

    def __enter__(self) -> PostgresSchema:
        with self._engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        return self

    def __exit__(self, *exc: object) -> None:
        with self._engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        self._engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database for this test, on the backend the run was asked for."""
    url = _configured_url()
    if url and _is_postgres(url):
        with PostgresSchema(url) as schema:
            yield schema.url
    else:
        yield f"sqlite:///{tmp_path / 'upm.db'}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated datastore."""
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL schema, whatever backend the run is on."""
    base = _postgres_base()
    problem = _postgres_reachable(base)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {base}: {problem}")
        pytest.skip(f"needs PostgreSQL ({base} not reachable: {problem})")
    with PostgresSchema(base) as schema:
        yield schema.url


@pytest.fixture
def fixtures_dir() -> Path:
    """The real CRM response samples (shared/crm-fixtures beside the repository)."""
    return SHARED / "crm-fixtures"
