"""Pull: CRM changes since the cursor -> the datastore, bound, with the cursor moved in the same
transaction as the rows it covers (one transaction per batch of pages)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from connector.adapters.base import CrmRecord
from connector.mapping.mapper import Mapper, MappingError
from connector.mapping.profile import ObjectMap
from connector.store.bindings import Binding
from connector.store.conflicts import Conflict
from connector.store.cursors import SyncCursor
from connector.store.failures import FailedRecord
from connector.sync.binder import Binder
from connector.sync.lane import Lane
from connector.sync.merge import merge, same, to_plain
from connector.sync.outbox import ORIGIN
from connector.sync.summary import Counts


APPLY_BATCH = 2000
"""Records applied in one transaction (at least; whole CRM pages are never split)."""


def cursor_row(session: Session, lane: Lane, obj: ObjectMap) -> SyncCursor:
    row = session.get(SyncCursor, (lane.connection, obj.crm_object, obj.module))
    if row is None:
        row = SyncCursor(connection=lane.connection, crm_object=obj.crm_object, module=obj.module)
        session.add(row)
    return row


class Puller:
    """Reads one object's changes and applies them according to the profile's mode."""

    def __init__(self, lane: Lane, obj: ObjectMap):
        self.lane = lane
        self.obj = obj
        self.mapper: Mapper = lane.mapper(obj)
        self.model = self.mapper.module.model
        self.lookback = timedelta(seconds=lane.profile.lookback_seconds)
        self.ceiling = lane.started_at - self.lookback
        """The cursor never moves past this: rows committed late are read again next run."""
        self._inserted = 0
        self._analyze_at = 1000
        self._first_read = False
        """This run read the object for the first time (from no cursor): nothing was bound before it."""
        self._distributes = obj.distribute == "named_or_open" and lane.profile.mode == "complete"
        self.siblings = [o for o in lane.profile.objects if o.crm_object == obj.crm_object and o.module != obj.module]
        """Other modules of this profile on the same CRM object (UPM opportunities pushed as Leads
        beside prospects pulled from Leads): the key prefix says whose each record is."""

    def run(self, since: datetime | None, *, from_cursor: bool) -> Counts:
        """Apply every change since `since` (inclusive), or, `from_cursor`, strictly after the cursor.

        Strictly after is safe because the cursor never passes the start of the run that set it
        minus the lookback: everything stamped at or before it was committed, and read, by then.
        (Reading `>=` instead would re-read, every cycle, all records sharing the cursor's stamp:
        Salesforce stamps have one-second precision, and a bulk load shares one.)"""
        counts = Counts()
        if from_cursor:
            with self.lane.db.session() as session:
                cursor = cursor_row(session, self.lane, self.obj).changes_at
            self._first_read = cursor is None
            since = None if cursor is None else cursor + self.lane.adapter.stamp_resolution
        pages = self.lane.adapter.read_changes(self.obj.crm_object, since, self.mapper.crm_read_fields)
        for batch in self.batches(pages):
            self.apply_page(batch, counts)
            self.lane.progress(f"pull {self.obj.module}", len(batch))
            if self.lane.should_stop():
                break
        return counts

    @staticmethod
    def batches(pages: Iterable[list[CrmRecord]]) -> Iterator[list[CrmRecord]]:
        """The CRM's pages gathered into batches of at least APPLY_BATCH records (the last may be
        smaller), so a load commits once per batch whatever the CRM's page size (HubSpot's is 200).
        Each record is in a batch once: one read twice (changed again while the read went on)
        keeps its newest version, in the place it was read last."""
        batch: dict[str, CrmRecord] = {}
        for page in pages:
            for record in page:
                batch.pop(record.id, None)
                batch[record.id] = record
            if len(batch) >= APPLY_BATCH:
                yield list(batch.values())
                batch = {}
        if batch:
            yield list(batch.values())

    def owns(self, key: object) -> bool:
        """Is a CRM record with this key value ours? Alone on its CRM object a module owns every
        record; beside others, a module with a prefix owns the records carrying it, and the one
        without a prefix owns the rest."""
        if not self.siblings:
            return True
        text = "" if key is None else str(key)
        if self.obj.key.prefix:
            return text.startswith(self.obj.key.prefix)
        return not any(s.key.prefix and text.startswith(s.key.prefix) for s in self.siblings)

    def apply_page(self, page: list[CrmRecord], counts: Counts, *, move_cursor: bool = True) -> None:
        """Apply one page (or batch of pages) in one transaction, with the cursor moved in it."""
        session = self.lane.db.new_session()
        session.info[ORIGIN] = self.lane.connection
        try:
            binder = Binder(session, self.lane.connection)
            self._prefetch(session, binder, page)
            bound_ids = [b.record_id for r in page if (b := binder.by_crm(self.obj.module, r.id))]
            records = {r.id: r for r in session.scalars(select(self.model).where(self.model.id.in_(bound_ids)))} if bound_ids else {}
            applied = []
            fresh: list[tuple[CrmRecord, dict[str, Any]]] = []
            for crm in page:
                counts.read += 1
                outcome = self._apply(session, binder, records, crm, counts)
                if outcome is None:
                    continue
                if outcome[0] is None:
                    fresh.append((outcome[1], outcome[2]))
                else:
                    applied.append(outcome)
            session.flush()
            now = self.lane.clock.now()
            if fresh:
                self._insert_fresh(session, fresh, now)
            binder.load_records(self.obj.module, [record.id for record, *_ in applied])
            new_prospects = [record for record, _, _, creating in applied if creating and self._distributes]
            if new_prospects:
                self.lane.on_new_prospects(session, new_prospects)
            for record, crm, values, creating in applied:
                binder.bind(self.obj.module, record.id, self.obj.crm_object, crm.id, to_plain(values), crm.modified_at, now)
            if not self.lane.dry_run:
                if move_cursor:
                    self._move_cursor(session, page)
                session.commit()
            else:
                session.rollback()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _prefetch(self, session: Session, binder: Binder, page: list[CrmRecord]) -> None:
        """Bindings of the page's records and of the records they point at, in a few queries."""
        binder.load_crm_ids(self.obj.module, [r.id for r in page])
        for field in self.mapper.inbound:
            if field.relation and field.crm:
                binder.load_crm_ids(field.relation, [str(v) for r in page if (v := r.fields.get(field.crm))])
        own_ids = [i for r in page if (i := self.mapper.record_id(r.fields.get(self.obj.key.crm))) is not None]
        if own_ids:
            binder.load_records(self.obj.module, own_ids)

    def _insert_fresh(self, session: Session, fresh: list[tuple[CrmRecord, dict[str, Any]]], now: datetime) -> None:
        """Records new to UPM, in two bulk INSERTs (records, then bindings) instead of a unit of
        work per record; routed to the other connections' outboxes like any local change."""
        ids = self._bulk_insert_records(session, [values for _, values in fresh])
        session.connection().execute(insert(Binding.__table__), [
            {"connection": self.lane.connection, "crm_object": self.obj.crm_object, "crm_id": crm.id,
             "module": self.obj.module, "record_id": record_id, "synced_values": to_plain(values),
             "synced_at": now, "crm_modified_at": crm.modified_at}
            for record_id, (crm, values) in zip(ids, fresh)
        ])
        if self.lane.outbox is not None:
            self.lane.outbox.queue_inserted(session, self.obj.module, ids, self.lane.connection)
        self._inserted += len(ids)
        if self.lane.db.backend == "postgresql" and self._inserted >= self._analyze_at:
            # A bulk load outgrows the planner's statistics (a fresh table looks empty, and page
            # lookups would scan it): refresh them at 1,000 rows, then at every doubling.
            session.execute(text(f"ANALYZE {Binding.__tablename__}, {self.model.__tablename__}"))
            self._analyze_at *= 2

    def _bulk_insert_records(self, session: Session, rows: list[dict[str, Any]]) -> list[int]:
        """INSERT the rows in one executemany (SQLAlchemy Core: the rows are plain column values, and
        the ORM's bulk layer would only copy them again); their new ids, in the rows' order.

        PostgreSQL: the ids are drawn from the table's sequence first and inserted with the rows, so
        the INSERT is one short statement sent per row in psycopg's pipeline (a RETURNING insert
        would be a 1,000-row VALUES statement that psycopg parses anew for every batch). SQLite
        cannot order a batched RETURNING and needs none: this transaction holds SQLite's only write
        lock, and an integer primary key takes the largest id plus one, so the rows got consecutive
        ids ending at the largest."""
        table = self.model.__table__
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            ids = list(connection.scalars(
                text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                {"table": table.name, "n": len(rows)}))
            connection.execute(insert(table), [{**row, "id": record_id} for row, record_id in zip(rows, ids)])
            return ids
        connection.execute(insert(table), rows)
        last = connection.scalar(select(func.max(table.c.id)))
        assert last is not None
        return list(range(last - len(rows) + 1, last + 1))

    def _move_cursor(self, session: Session, page: list[CrmRecord]) -> None:
        """Up to the newest stamp applied, never past the run's start minus the lookback."""
        newest = min(max(r.modified_at for r in page), self.ceiling)
        cursor = cursor_row(session, self.lane, self.obj)
        cursor.changes_at = newest if cursor.changes_at is None else max(cursor.changes_at, newest)

    def _apply(self, session: Session, binder: Binder, records: dict[int, Any], crm: CrmRecord,
               counts: Counts) -> tuple[Any, CrmRecord, dict[str, Any], bool] | None:
        """Apply one CRM record; returns what to bind once the page is flushed (None: nothing to bind)."""
        module = self.obj.module
        if not self.owns(crm.fields.get(self.obj.key.crm)):
            return None
        try:
            values = self.mapper.to_upm(crm.fields, binder.record_for)
        except MappingError as exc:
            counts.failed += 1
            if not self.lane.dry_run:
                session.add(FailedRecord(connection=self.lane.connection, direction="to_upm", module=module,
                                         crm_object=self.obj.crm_object, crm_id=crm.id, error_code="MAPPING",
                                         error_message=str(exc), payload=to_plain(dict(crm.fields))))
            return None
        binding = binder.by_crm(module, crm.id)
        record = records.get(binding.record_id) if binding else None
        if record is None and binding is None:
            own_id = self.mapper.record_id(crm.fields.get(self.obj.key.crm))
            record = session.get(self.model, own_id) if own_id is not None else None  # one we pushed
        base = binding.synced_values if binding else None
        if base is not None and record is not None and all(same(values[k], base.get(k)) for k in values):
            counts.unchanged += 1  # nothing changed on the CRM side since we last synced (our echo)
            return None
        creating = record is None
        if creating and not self._distributes:
            counts.created += 1
            if self.lane.dry_run:
                counts.changes.append(f"UPM {module} new <- {self.obj.crm_object} {crm.id}: {sorted(values)}")
            return None, crm, values, True  # inserted in bulk with the rest of the page
        if creating:
            record = self.model()
            session.add(record)
            apply = values
        elif self.lane.profile.mode == "advanced":
            local = {k: getattr(record, k) for k in values}
            result = merge(base, local, values, record.updated_at, crm.modified_at, self.lane.profile.clock_skew_seconds)
            apply = {k: v for k, v in result.values.items() if not same(v, local[k])}
            for conflict in result.conflicts:
                counts.conflicts += 1
                session.add(Conflict(connection=self.lane.connection, module=module, record_id=record.id,
                                     field=conflict.field, upm_value=to_plain(conflict.local),
                                     crm_value=to_plain(conflict.remote), upm_modified_at=record.updated_at,
                                     crm_modified_at=crm.modified_at,
                                     winner="upm" if conflict.winner == "local" else "crm"))
        else:  # basic and complete: the CRM is master for the mapped fields
            apply = {k: v for k, v in values.items() if not same(v, getattr(record, k))}
        if not creating and not apply:
            counts.unchanged += 1
        else:
            for key, value in apply.items():
                setattr(record, key, value)
            if creating:
                counts.created += 1
            else:
                counts.updated += 1
            if self.lane.dry_run:
                counts.changes.append(f"UPM {module} {'new' if creating else record.id} <- {self.obj.crm_object} {crm.id}: {sorted(apply)}")
        return record, crm, values, creating

    def deletes_due(self) -> bool:
        """Has `deletes_every_seconds` passed since the delete log was last read?"""
        with self.lane.db.session() as session:
            checked = cursor_row(session, self.lane, self.obj).deletes_checked_at
        every = timedelta(seconds=self.lane.profile.deletes_every_seconds)
        return checked is None or self.lane.started_at - checked >= every

    def apply_deletes(self, since: datetime | None) -> Counts:
        """Archive (or leave, per on_delete) UPM records whose CRM records were deleted."""
        counts = Counts()
        session = self.lane.db.new_session()
        session.info[ORIGIN] = self.lane.connection
        try:
            cursor = cursor_row(session, self.lane, self.obj)
            start = since or cursor.deletes_at or (None if self._first_read else cursor.changes_at)
            if start is None:  # first run: what it bound was read after the ceiling; deletes from there on
                cursor.deletes_at = self.ceiling
            else:
                deleted = self.lane.adapter.read_deleted(self.obj.crm_object, start)
                binder = Binder(session, self.lane.connection)
                binder.load_crm_ids(self.obj.module, [i for i, _ in deleted.ids])
                for crm_id, _at in deleted.ids:
                    binding = binder.by_crm(self.obj.module, crm_id)
                    if binding is None or self.obj.on_delete == "ignore":
                        continue
                    record = session.get(self.model, binding.record_id)
                    if record is not None and record.archived_at is None:
                        counts.archived += 1
                        record.archived_at = self.lane.clock.now()
                        if self.lane.dry_run:
                            counts.changes.append(f"UPM {self.obj.module} {record.id} archived: {self.obj.crm_object} {crm_id} deleted")
                cursor.needs_reconcile = cursor.needs_reconcile or not deleted.complete
                cursor.deletes_at = max(start, self.ceiling)
            cursor.deletes_checked_at = self.lane.started_at
            if self.lane.dry_run:
                session.rollback()
            else:
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        return counts
