"""Pull: CRM changes since the cursor -> the datastore, bound, with the cursor moved in the same
transaction as the rows it covers (one transaction per batch of pages)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.adapters.base import CrmRecord, DeletedRecords, NeedsFullResync
from connector.mapping.mapper import Mapper, MappingError
from connector.mapping.profile import ObjectMap
from connector.store.bindings import Binding, rebase
from connector.store.bulk import insert_columns, insert_rows
from connector.store.conflicts import Conflict
from connector.store.cursors import SyncCursor
from connector.store.failures import FailedRecord
from connector.sync.binder import Binder
from connector.sync.lane import Lane
from connector.sync.merge import merge, plain_values, same, to_plain
from connector.sync.outbox import ORIGIN
from connector.sync.read_ahead import ReadAhead, close_iterator
from connector.sync.scope import OWNED_BY_PARTNER, owners_of_module
from connector.sync.summary import Counts, field_changes


APPLY_BATCH = 2000
"""Records applied in one transaction (at least; whole CRM pages are never split)."""
FIRST_LOAD_TRACKED = 200_000
"""A first load skips the binding lookups of the records it pulls for the first time in the cycle
while it has pulled fewer than this (the set of pulled ids is what keeps a record read twice
exactly-once; past this the lookups resume, so the memory stays bounded)."""


NEXT_IDS = ("WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS seq) "
            "SELECT nextval(s.seq) FROM s, generate_series(1, %s)")
"""PostgreSQL: n new ids of a table, the sequence looked up once (a STABLE function in the select
list is called for every row: 2,000 lookups took 26-29 ms a batch, this 4-8 ms)."""


def cursor_row(session: Session, lane: Lane, obj: ObjectMap) -> SyncCursor:
    row = session.get(SyncCursor, (lane.connection, obj.crm_object, obj.module))
    if row is None:
        row = SyncCursor(connection=lane.connection, crm_object=obj.crm_object, module=obj.module)
        session.add(row)
    return row


@dataclass
class PullBatch:
    """CRM records applied in one transaction."""

    records: list[CrmRecord]
    last: bool
    """No page follows it in this read: every record up to its newest stamp has been read."""


@dataclass
class Fresh:
    """A record new to UPM, inserted in bulk with the rest of its batch."""

    crm: CrmRecord
    values: dict[str, Any]


@dataclass
class Written:
    """A record written through the session, bound once the batch is flushed."""

    record: Any
    crm: CrmRecord
    values: dict[str, Any]
    created: bool


@dataclass
class BatchWork:
    """What a batch's records came to, before they are written in bulk and bound."""

    fresh: list[Fresh] = field(default_factory=list)
    written: list[Written] = field(default_factory=list)


class Puller:
    """Reads one object's changes and applies them according to the profile's mode.

    Each record goes through the same steps, one method each: owns? -> map (or fail) -> local ->
    echo? -> resolve (create | merge | overwrite) -> write; then, per batch: bind -> after ->
    cursor -> commit."""

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
        self._crm_only = (self.mapper.upm_write_fields | self.mapper.derived_fields) - {n for f in self.mapper.outbound for n in f.upm_fields}
        """UPM fields only the CRM writes (`direction: to_upm`, and what derives from them): taken from
        the CRM, never a conflict."""
        self.siblings = [o for o in lane.profile.objects if o.crm_object == obj.crm_object and o.module != obj.module]
        """Other modules of this profile on the same CRM object (UPM opportunities pushed as Leads
        beside prospects pulled from Leads): the key prefix says whose each record is."""
        scope = lane.scope
        self._scoped = scope is not None and bool(owners_of_module(obj.module))
        """A partner connection on a module partners own: bound records no longer the partner's
        (a lead pulled back) are left alone."""
        self._attribute = scope is not None and obj.module in OWNED_BY_PARTNER
        """A partner connection: what it brings in belongs to its partner (`partner_account_id`)."""
        self._foreign: set[int] = set()
        self._pulled: set[str] | None = None
        """On a first load (nothing of this module bound on this connection when the cycle
        started): the CRM ids pulled so far this cycle, the only ones that may be bound. None: look
        every record's binding up."""

    def run(self, since: datetime | None, *, from_cursor: bool) -> Counts:
        """Apply every change since `since` (inclusive), or, `from_cursor`, strictly after the cursor:
        page through the CRM (a page ahead of the writer), gather the pages into batches, save each
        batch.

        Strictly after is safe because the cursor only ever covers stamps whose every record is
        committed (see `_move_cursor`), and never passes the start of the run that set it minus the
        lookback. (Reading `>=` instead would re-read, every cycle, all records sharing the cursor's
        stamp: Salesforce stamps have one-second precision, and a bulk load shares one.)"""
        counts = Counts()
        if from_cursor:
            since = self._after_cursor()
            self.start_delete_token()
        self._pulled = None if self._bound_before() else set()
        pages = self.lane.adapter.read_changes(self.obj.crm_object, since, self.mapper.crm_read_fields)
        try:
            with self.batches_ahead(pages) as ahead:
                for batch in ahead:
                    self.apply_page(batch.records, counts, complete=batch.last)
                    self.lane.progress(f"pull {self.obj.module}", len(batch.records), None)
                    if self.lane.should_stop():
                        break
        finally:
            self._pulled = None
        return counts

    def _bound_before(self) -> bool:
        """Is any record of this module bound on this connection (one indexed query)?"""
        with self.lane.db.session() as session:
            return session.scalar(select(Binding.id).where(
                Binding.connection == self.lane.connection, Binding.module == self.obj.module).limit(1)) is not None

    def _after_cursor(self) -> datetime | None:
        """The first stamp after the cursor (None: no cursor, read everything)."""
        with self.lane.db.session() as session:
            cursor = cursor_row(session, self.lane, self.obj).changes_at
        self._first_read = cursor is None
        return None if cursor is None else cursor + self.lane.adapter.stamp_resolution

    def start_delete_token(self) -> None:
        """An adapter that reads deletes by token, and no token yet: take the CRM's token before the
        changes are read, so a record deleted while they are read is among the next deletes. Records
        bound before (a cursor from before the token, or lost) may have lost deletes: `needs_reconcile`."""
        if not self.lane.adapter.deletes_by_token or self.lane.dry_run:
            return
        with self.lane.db.session() as session:
            cursor = cursor_row(session, self.lane, self.obj)
            if cursor.deletes_token is None:
                cursor.deletes_token = self.lane.adapter.read_deleted_by_token(self.obj.crm_object, None).next_token
                cursor.needs_reconcile = cursor.needs_reconcile or cursor.changes_at is not None
                session.commit()

    @staticmethod
    def batches(pages: Iterable[list[CrmRecord]]) -> Iterator[PullBatch]:
        """The CRM's pages gathered into batches of at least APPLY_BATCH records (the last may be
        smaller), so a load commits once per batch whatever the CRM's page size (HubSpot's is 200).
        A full batch is handed on when the next page arrives, so each batch knows whether it is
        the read's last. Each record is in a batch once: one read twice (changed again while the
        read went on) keeps its newest version, in the place it was read last. The page iterator
        is closed when the batches end or are closed."""
        iterator = iter(pages)
        batch: dict[str, CrmRecord] = {}
        try:
            for page in iterator:
                if len(batch) >= APPLY_BATCH:
                    yield PullBatch(list(batch.values()), last=False)
                    batch = {}
                for record in page:
                    batch.pop(record.id, None)
                    batch[record.id] = record
            if batch:
                yield PullBatch(list(batch.values()), last=True)
        finally:
            close_iterator(iterator)

    @staticmethod
    def batches_ahead(pages: Iterable[list[CrmRecord]]) -> ReadAhead[PullBatch]:
        """`batches(pages)` gathered in a reader thread, the next batch read while one is written:
        `with Puller.batches_ahead(pages) as ahead: for batch in ahead: ...`. Whole batches, not
        pages, so that a CRM with small pages (HubSpot's 200) is read a whole batch ahead, not one
        page: at most three batches are in memory (one written, one waiting, one being read)."""
        return ReadAhead(Puller.batches(pages))

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

    def apply_page(self, page: list[CrmRecord], counts: Counts, *, move_cursor: bool = True,
                   complete: bool = True) -> None:
        """Apply one page (or batch of pages) in one transaction, with the cursor moved in it.
        `complete`: no record sharing the page's newest stamp is still to come.

        A page that collides with another writer's binding (the Assign to Partner page binding a
        lead that a first load, which skips the lookups of records it has not pulled yet, was about
        to create; or a fetch meeting the load's) is rolled back and applied once more with every
        binding looked up: the record is merged into the one bound meanwhile, not created twice."""
        attempt = Counts()
        try:
            self._apply_once(page, attempt, move_cursor, complete)
        except IntegrityError:
            self._pulled = None  # from now on, every record's binding is looked up
            attempt = Counts()
            self._apply_once(page, attempt, move_cursor, complete)
        counts.add(attempt)

    def _apply_once(self, page: list[CrmRecord], counts: Counts, move_cursor: bool, complete: bool) -> None:
        session = self.lane.db.new_session()
        session.info[ORIGIN] = self.lane.connection
        try:
            binder = Binder(session, self.lane.connection)
            page = self.with_links(binder, page)
            records = self._prefetch(session, binder, page)
            work = BatchWork()
            counts.read += len(page)
            for crm in page:
                outcome = self._pull_one(session, binder, records, crm, counts)
                if isinstance(outcome, Fresh):
                    work.fresh.append(outcome)
                elif isinstance(outcome, Written):
                    work.written.append(outcome)
            session.flush()
            now = self.lane.clock.now()
            self._insert_fresh(session, work.fresh, now)
            self._bind(binder, work.written, now)
            self.after(session, [w.record for w in work.written if w.created])
            if self.lane.dry_run:
                session.rollback()
                return
            if move_cursor:
                self._move_cursor(session, page, complete)
            session.commit()
            if self._pulled is not None:
                self._pulled.update(r.id for r in page)
                if len(self._pulled) >= FIRST_LOAD_TRACKED:
                    self._pulled = None
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _pull_one(self, session: Session, binder: Binder, records: dict[int, Any], crm: CrmRecord,
                  counts: Counts) -> Fresh | Written | None:
        """One CRM record through the steps; None when there is nothing to write or bind."""
        if self.siblings and not self.owns(crm.fields.get(self.obj.key.crm)):
            return None
        values = self._map(session, binder, crm, counts)
        if values is None:
            return None
        binding, record = self._local(session, binder, records, crm)
        if record is not None and record.id in self._foreign:
            counts.unchanged += 1
            return None
        base = binding.synced_values if binding else None
        if record is not None and self._echo(base, values):
            counts.unchanged += 1
            return None
        if record is None:
            return self._create(session, crm, values, counts)
        if self.lane.profile.mode == "advanced":
            changes = self._merge(session, record, base, values, crm, counts)
        else:
            changes = self._overwrite(record, values)
        return self._write(record, crm, values, changes, counts)

    def _map(self, session: Session, binder: Binder, crm: CrmRecord, counts: Counts) -> dict[str, Any] | None:
        """The record's UPM values; None, with a failed record queued, when it cannot be mapped."""
        try:
            return self.mapper.to_upm(crm.fields, partial(self.record_for, binder))
        except MappingError as exc:
            counts.failed += 1
            if not self.lane.dry_run:
                session.add(FailedRecord(connection=self.lane.connection, direction="to_upm", module=self.obj.module,
                                         crm_object=self.obj.crm_object, crm_id=crm.id, error_code="MAPPING",
                                         error_message=str(exc), payload=to_plain(dict(crm.fields))))
            return None

    def record_for(self, binder: Binder, module: str, value: str) -> int | None:
        """The UPM record a relation's CRM value names on this connection: a bound record's CRM id,
        or the related record's external key as this profile writes it (prefix and UPM id, e.g. a
        Lead's `upm-lead-7` that Salesforce's lead conversion copies onto the Opportunity) of a
        record bound here."""
        found = binder.record_for(module, value)
        target = self.lane.profile.object_for(module)
        if found is None and target is not None and target.key.prefix and value.startswith(target.key.prefix):
            rest = value[len(target.key.prefix):]
            if rest.isdigit() and binder.by_record(module, int(rest)) is not None:
                return int(rest)
        return found

    def _local(self, session: Session, binder: Binder, records: dict[int, Any],
               crm: CrmRecord) -> tuple[Binding | None, Any]:
        """The record's binding and UPM record: the bound one, or, unbound, one we pushed (its key
        carries our id), or none."""
        binding = binder.by_crm(self.obj.module, crm.id)
        if binding is not None:
            return binding, records.get(binding.record_id)
        own_id = self.mapper.record_id(crm.fields.get(self.obj.key.crm))
        return None, session.get(self.model, own_id) if own_id is not None else None

    @staticmethod
    def _echo(base: dict[str, Any] | None, values: dict[str, Any]) -> bool:
        """Nothing changed on the CRM side since we last synced (our own write, read back)."""
        return base is not None and all(same(values[k], base.get(k)) for k in values)

    def _create(self, session: Session, crm: CrmRecord, values: dict[str, Any], counts: Counts) -> Fresh | Written:
        """A record new to UPM: inserted in bulk, or, when it is distributed, added to the session
        (distribution needs the record object)."""
        counts.created += 1
        if self._attribute:
            assert self.lane.scope is not None
            values = {**values, "partner_account_id": self.lane.scope.partner_id(session)}
        if self.lane.dry_run:
            counts.changes.append(f"UPM {self.obj.module} new <- {self.obj.crm_object} {crm.id}: {sorted(values)}")
        if not self._distributes:
            return Fresh(crm, values)
        record = self.model(**values)
        session.add(record)
        return Written(record, crm, values, created=True)

    def _merge(self, session: Session, record: Any, base: dict[str, Any] | None, values: dict[str, Any],
               crm: CrmRecord, counts: Counts) -> dict[str, Any]:
        """Advanced mode: a three-way merge of the two-way fields, conflicts logged; the CRM-only
        fields taken as they are. Returns the fields to change."""
        local = {k: getattr(record, k) for k in values}
        two_way = {k: v for k, v in values.items() if k not in self._crm_only}
        result = merge(base, {k: local[k] for k in two_way}, two_way, record.updated_at, crm.modified_at,
                       self.lane.profile.clock_skew_seconds)
        for conflict in result.conflicts:
            counts.conflicts += 1
            session.add(Conflict(connection=self.lane.connection, module=self.obj.module, record_id=record.id,
                                 field=conflict.field, upm_value=to_plain(conflict.local),
                                 crm_value=to_plain(conflict.remote), upm_modified_at=record.updated_at,
                                 crm_modified_at=crm.modified_at,
                                 winner="upm" if conflict.winner == "local" else "crm"))
        merged = {**values, **result.values}
        return {k: v for k, v in merged.items() if not same(v, local[k])}

    @staticmethod
    def _overwrite(record: Any, values: dict[str, Any]) -> dict[str, Any]:
        """Basic and complete modes: the CRM is master for the mapped fields."""
        return {k: v for k, v in values.items() if not same(v, getattr(record, k))}

    def _write(self, record: Any, crm: CrmRecord, values: dict[str, Any], changes: dict[str, Any],
               counts: Counts) -> Written:
        """Set the changed fields on the UPM record (bound either way, so the base moves on)."""
        if not changes:
            counts.unchanged += 1
            return Written(record, crm, values, created=False)
        if self.lane.dry_run:
            was = {key: getattr(record, key) for key in changes}
            counts.changes.append(f"UPM {self.obj.module} {record.id} <- {self.obj.crm_object} {crm.id}: "
                                  f"{field_changes(was, changes)}")
        for key, value in changes.items():
            setattr(record, key, value)
        counts.updated += 1
        return Written(record, crm, values, created=False)

    def _bind(self, binder: Binder, written: list[Written], now: datetime) -> None:
        """Bind the records written through the session, with the values both sides now hold. A
        binding that stays on the same CRM record takes its new echo values in one UPDATE for the
        batch (Core, no unit of work for 2,000 binding objects); new and moved bindings go through
        the binder."""
        module = self.obj.module
        binder.load_records(module, [w.record.id for w in written])
        rebased: list[tuple[int, dict[str, Any], datetime | None]] = []
        for w in written:
            held = binder.by_record(module, w.record.id)
            if held is not None and held.crm_id == w.crm.id and held.crm_object == self.obj.crm_object:
                rebased.append((held.id, to_plain(w.values), w.crm.modified_at))
            else:
                binder.bind(module, w.record.id, self.obj.crm_object, w.crm.id, to_plain(w.values),
                            w.crm.modified_at, now)
        rebase(binder.session.connection(), rebased, now)

    def after(self, session: Session, created: list[Any]) -> None:
        """New records handed on: complete mode distributes the prospects it brings in."""
        if self._distributes and created:
            self.lane.on_new_prospects(session, created)

    def with_links(self, binder: Binder, page: list[CrmRecord]) -> list[CrmRecord]:
        """The page's records with each link read back (HubSpot v4 associations, one batch read per
        link): at the field's `link_key`, the first associated record bound as the relation's module
        on this connection (a deal's contacts: the lead it came from), None when none is."""
        if not self.mapper.inbound_links or not page:
            return page
        linked: dict[str, dict[str, Any]] = {r.id: {} for r in page}
        for field in self.mapper.inbound_links:
            assert field.relation is not None
            target = self.lane.profile.object_for(field.relation)
            assert target is not None  # checked at load
            associated = self.lane.adapter.read_associations(  # type: ignore[attr-defined]  # links are HubSpot-only (checked at load)
                self.obj.crm_object, [r.id for r in page], target.crm_object)
            binder.load_crm_ids(field.relation, sorted({i for ids in associated.values() for i in ids}))
            for crm_id, ids in associated.items():
                if crm_id in linked:
                    linked[crm_id][field.link_key] = next(
                        (i for i in ids if binder.record_for(field.relation, i) is not None), None)
        return [replace(r, fields={**r.fields, **linked[r.id]}) for r in page]

    def _prefetch(self, session: Session, binder: Binder, page: list[CrmRecord]) -> dict[int, Any]:
        """Bindings of the page's records and of the records they point at, in a few queries; the
        bound UPM records by id."""
        if self._pulled is not None:
            binder.assume_unbound(self.obj.module, [r.id for r in page if r.id not in self._pulled])
        binder.load_crm_ids(self.obj.module, [r.id for r in page])
        for field_map in self.mapper.inbound:
            if field_map.relation and field_map.crm:
                binder.load_crm_ids(field_map.relation, [str(v) for r in page if (v := r.fields.get(field_map.crm))])
        own_ids = [i for r in page if (i := self.mapper.record_id(r.fields.get(self.obj.key.crm))) is not None]
        if own_ids:
            binder.load_records(self.obj.module, own_ids)
        bound_ids = [b.record_id for r in page if (b := binder.by_crm(self.obj.module, r.id))]
        if self._scoped:
            assert self.lane.scope is not None
            local = set(bound_ids) | set(own_ids)
            self._foreign = local - self.lane.scope.allowed(session, self.obj.module, local)
        if not bound_ids:
            return {}
        return {r.id: r for r in session.scalars(select(self.model).where(self.model.id.in_(bound_ids)))}

    def _insert_fresh(self, session: Session, fresh: list[Fresh], now: datetime) -> None:
        """Records new to UPM, in two bulk INSERTs (records, then bindings) instead of a unit of
        work per record; routed to the other connections' outboxes like any local change."""
        if not fresh:
            return
        ids = self._bulk_insert_records(session, [f.values for f in fresh])
        insert_columns(session.connection(), Binding.__table__, len(fresh), {
            "crm_id": [f.crm.id for f in fresh], "record_id": ids,
            "synced_values": [plain_values(f.values) for f in fresh],
            "crm_modified_at": [f.crm.modified_at for f in fresh],
        }, constants={"connection": self.lane.connection, "crm_object": self.obj.crm_object,
                      "module": self.obj.module, "synced_at": now})
        if self.lane.outbox is not None:
            self.lane.outbox.queue_inserted(session, self.obj.module, ids, self.lane.connection)
        self.lane.db.inserted(session, self.model.__tablename__, ids)  # e.g. lead scoring
        self._inserted += len(ids)
        if self.lane.db.backend == "postgresql" and self._inserted >= self._analyze_at:
            # A bulk load outgrows the planner's statistics (a fresh table looks empty, and page
            # lookups would scan it): refresh them at 1,000 rows, then at every doubling.
            session.execute(text(f"ANALYZE {Binding.__tablename__}, {self.model.__tablename__}"))
            self._analyze_at *= 2

    def _bulk_insert_records(self, session: Session, rows: list[dict[str, Any]]) -> list[int]:
        """INSERT the rows at the driver's level (`store.bulk`: multi-row VALUES on SQLite, one COPY
        on PostgreSQL); their new ids, in the rows' order.

        PostgreSQL: the ids are drawn from the table's sequence first and copied with the rows. SQLite
        cannot order a batched RETURNING and needs none: this transaction holds SQLite's only write
        lock, and an integer primary key takes the largest id plus one, so the rows got consecutive
        ids ending at the largest."""
        table = self.model.__table__
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            driver = connection.connection.driver_connection
            assert driver is not None
            with driver.cursor() as cursor:  # 2,000 plain ints: no result processing needed
                cursor.execute(NEXT_IDS, (table.name, len(rows)))
                ids = [row[0] for row in cursor.fetchall()]
            insert_rows(connection, table, [{**row, "id": record_id} for row, record_id in zip(rows, ids)])
            return ids
        insert_rows(connection, table, rows)
        last = connection.scalar(select(func.max(table.c.id)))
        assert last is not None
        return list(range(last - len(rows) + 1, last + 1))

    def _move_cursor(self, session: Session, page: list[CrmRecord], complete: bool) -> None:
        """Up to the newest stamp whose every record is now committed, never past the run's start
        minus the lookback. Reads come in stamp order, so when more pages follow (`complete`
        false), records sharing the page's newest stamp may still be among them: the cursor stops
        one stamp short, and the next run reads that stamp again (the writes are idempotent)."""
        newest = max(r.modified_at for r in page)
        if not complete:
            newest -= self.lane.adapter.stamp_resolution
        cursor = cursor_row(session, self.lane, self.obj)
        newest = min(newest, self.ceiling)
        cursor.changes_at = newest if cursor.changes_at is None else max(cursor.changes_at, newest)

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
            if self.lane.adapter.deletes_by_token:
                self._archive(session, self._token_deletes(cursor), counts)
                cursor.deletes_at = self.ceiling
            else:
                start = since or cursor.deletes_at or (None if self._first_read else cursor.changes_at)
                if start is None:  # first run: what it bound was read after the ceiling; deletes from there on
                    cursor.deletes_at = self.ceiling
                else:
                    try:
                        deleted = self.lane.adapter.read_deleted(self.obj.crm_object, start)
                    except NeedsFullResync:  # recorded on the cursor (`status` shows it), not a failed lane
                        deleted = DeletedRecords(ids=[], complete=False)
                    self._archive(session, [i for i, _ in deleted.ids], counts)
                    cursor.needs_reconcile = cursor.needs_reconcile or not deleted.complete
                    cursor.deletes_at = max(start, min(self.ceiling, deleted.covered_until or self.ceiling))
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

    def _token_deletes(self, cursor: SyncCursor) -> list[str]:
        """Ids deleted since the cursor's token, the token moved on (committed with the archiving).
        A token the CRM refuses as expired sets `needs_reconcile` and starts a fresh one; no token
        (a first read that took none, or a dry run): none deleted, a token from now."""
        token = cursor.deletes_token
        try:
            deleted = self.lane.adapter.read_deleted_by_token(self.obj.crm_object, token)
        except NeedsFullResync:  # recorded on the cursor (`status` shows it), not a failed lane
            cursor.needs_reconcile = True
            token = None
            deleted = self.lane.adapter.read_deleted_by_token(self.obj.crm_object, None)
        cursor.deletes_token = deleted.next_token
        return deleted.ids if token is not None else []

    def _archive(self, session: Session, crm_ids: list[str], counts: Counts) -> None:
        """Archive (or, `on_delete: ignore`, leave) the bound UPM records of these deleted CRM ids."""
        binder = Binder(session, self.lane.connection)
        binder.load_crm_ids(self.obj.module, crm_ids)
        for crm_id in crm_ids:
            binding = binder.by_crm(self.obj.module, crm_id)
            if binding is None or self.obj.on_delete == "ignore":
                continue
            record = session.get(self.model, binding.record_id)
            if record is not None and record.archived_at is None:
                counts.archived += 1
                record.archived_at = self.lane.clock.now()
                if self.lane.dry_run:
                    counts.changes.append(f"UPM {self.obj.module} {record.id} archived: {self.obj.crm_object} {crm_id} deleted")

