"""The UPM datastore: SQLAlchemy 2 models of the partner portal's records, and how to reach them.

SQLite by default (one daemon), PostgreSQL when several replicas share the work. The schema is
owned by Alembic migrations (`upm-connector db upgrade`); the models are the source they are
generated from. Importing this package registers every table on `Base.metadata`.
"""

from connector.store import (  # noqa: F401  (importing registers the tables)
    aging,
    assignments,
    bindings,
    change_log,
    conflicts,
    cursors,
    directory_version,
    distribution,
    drift,
    failures,
    lane_runs,
    leases,
    notifications,
    outbox,
    partner_connections,
    partners,
    records,
    scoring,
    tokens,
    web,
)
from connector.store.base import Base
from connector.store.database import Database
from connector.store.modules import MODULES, MODULES_BY_KEY, Module

__all__ = ["Base", "Database", "MODULES", "MODULES_BY_KEY", "Module"]
