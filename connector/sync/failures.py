"""Failed records: list, retry (pushes re-queued through the outbox; pulls re-applied from the
stored CRM payload), discard."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from connector.adapters.base import CrmRecord
from connector.store.database import Database
from connector.store.failures import FailedRecord
from connector.sync.engine import SyncEngine
from connector.sync.outbox import enqueue
from connector.sync.pull import Puller
from connector.sync.summary import Counts


def list_failures(db: Database, connection: str | None = None, status: str = "open") -> list[FailedRecord]:
    with db.session() as session:
        query = select(FailedRecord).where(FailedRecord.status == status).order_by(FailedRecord.id)
        if connection:
            query = query.where(FailedRecord.connection == connection)
        return list(session.scalars(query))


def get_failure(db: Database, failure_id: int) -> FailedRecord | None:
    with db.session() as session:
        return session.get(FailedRecord, failure_id)


def discard(db: Database, failure_ids: list[int]) -> int:
    with db.session() as session:
        rows = session.scalars(select(FailedRecord).where(FailedRecord.id.in_(failure_ids), FailedRecord.status == "open")).all()
        for row in rows:
            row.status = "discarded"
        return len(rows)


def retry_pushes(db: Database, failures: list[FailedRecord]) -> int:
    """Re-queue refused pushes; the next cycle (or `sync`) sends them again."""
    with db.session() as session:
        for failure in failures:
            assert failure.record_id is not None
            enqueue(session, failure.connection, failure.module, [failure.record_id])
            row = session.get(FailedRecord, failure.id)
            assert row is not None
            row.status, row.attempts = "retried", row.attempts + 1
    return len(failures)


def retry_pulls(engine: SyncEngine, failures: list[FailedRecord], now: datetime) -> Counts:
    """Apply stored CRM payloads again (after the mapping or the referenced data was fixed)."""
    lane = engine._lane(False, lambda: False)
    counts = Counts()
    for failure in failures:
        obj = next((o for o in lane.profile.objects if o.module == failure.module and o.crm_object == failure.crm_object), None)
        if obj is None or failure.crm_id is None:
            continue
        before = counts.failed
        Puller(lane, obj).apply_page([CrmRecord(failure.crm_id, now, failure.payload)], counts, move_cursor=False)
        with engine.db.session() as session:
            row = session.get(FailedRecord, failure.id)
            assert row is not None
            row.status = "retried" if counts.failed == before else "open"
            row.attempts += 1
    return counts
