"""The sync engine for one connection: a cycle pulls every object (in the profile's dependency
order), then pushes the outbox in the same order, then reports what it did."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from connector.adapters.base import CrmAdapter
from connector.clock import Clock
from connector.mapping.loader import LoadedProfile
from connector.mapping.profile import ObjectMap
from connector.store.bindings import Binding
from connector.store.database import Database
from connector.sync.lane import Lane, NewProspects, Progress, no_progress
from connector.sync.outbox import OutboxRouter
from connector.sync.pull import Puller, cursor_row
from connector.sync.push import Pusher
from connector.sync.scope import PartnerScope
from connector.sync.summary import Counts


class SyncEngine:
    """Runs sync cycles and resyncs for one connection. `outbox`: the router installed on `db` (for
    the records a pull bulk-inserts); `on_new_prospects`: told of the leads a complete-mode pull
    creates; `scope`: a partner connection's (only its partner's records go out, and what comes in
    is attributed to it)."""

    def __init__(self, connection: str, db: Database, adapter: CrmAdapter, loaded: LoadedProfile, clock: Clock, *,
                 outbox: OutboxRouter | None = None,
                 on_new_prospects: NewProspects = lambda session, prospects: None,
                 scope: PartnerScope | None = None):
        self.outbox = outbox
        self.scope = scope
        self.on_new_prospects = on_new_prospects
        self.connection = connection
        self.db = db
        self.adapter = adapter
        self.loaded = loaded
        self.clock = clock

    def _lane(self, dry_run: bool, should_stop: Callable[[], bool],
              progress: Progress = no_progress) -> Lane:
        return Lane(self.connection, self.db, self.adapter, self.loaded, self.clock, self.clock.now(),
                    outbox=self.outbox, on_new_prospects=self.on_new_prospects, scope=self.scope, dry_run=dry_run,
                    should_stop=should_stop, progress=progress)

    def cycle(self, *, only: str | None = None, dry_run: bool = False, deletes: Literal["now", "due"] = "now",
              should_stop: Callable[[], bool] = lambda: False,
              progress: Progress = no_progress) -> Counts:
        """One incremental cycle: changes and deletes since each cursor, then the outbox. `deletes`
        "due" reads the delete log only when the profile's `deletes_every_seconds` has passed (the
        daemon's lane); "now" reads it every time (a cycle someone asked for)."""
        lane = self._lane(dry_run, should_stop, progress)
        calls_before = self.adapter.api_usage().calls_made
        objects = lane.objects(only)
        initial = [obj for obj in objects if self._never_run(lane, obj)]
        per_object: dict[tuple[str, str], Counts] = {}
        for obj in objects:
            if lane.should_stop():
                break
            if obj.direction != "to_crm":
                puller = Puller(lane, obj)
                self._step(per_object, obj, lambda: puller.run(None, from_cursor=True))
                if deletes == "now" or puller.deletes_due():
                    self._step(per_object, obj, lambda: puller.apply_deletes(None))
        return self._push_and_record(lane, objects, per_object, calls_before, both_ways=initial)

    def fetch(self, module: str, crm_id: str) -> int | None:
        """Bring one CRM record in now, by its CRM id, in one API call (a lead opened from the CRM
        before any cycle read it): written and bound as a pull writes it (a complete-mode lead is
        distributed like any new one), cursors untouched. The UPM record's id; None when the CRM
        has no such record (or it is not this profile's)."""
        lane = self._lane(False, lambda: False)
        obj = next((o for o in lane.objects(module) if o.module == module and o.direction != "to_crm"), None)
        if obj is None:
            raise ValueError(f"the profile does not read {module} from the CRM")
        puller = Puller(lane, obj)
        record = self.adapter.fetch(obj.crm_object, crm_id, puller.mapper.crm_read_fields)
        if record is not None:
            puller.apply_page([record], Counts(), move_cursor=False)
        with self.db.session() as session:
            return session.scalar(select(Binding.record_id).where(
                Binding.connection == self.connection, Binding.module == module, Binding.crm_id == crm_id))

    def _never_run(self, lane: Lane, obj: ObjectMap) -> bool:
        """Has no (real) run of this connection covered the object yet?"""
        with self.db.session() as session:
            return cursor_row(session, lane, obj).last_run_at is None

    def _step(self, per_object: dict[tuple[str, str], Counts], obj: ObjectMap, work: Callable[[], Counts]) -> None:
        """Run one step of one object, adding its counts and the API calls it made to the object's."""
        before = self.adapter.api_usage().calls_made
        counts = work()
        counts.api_calls += self.adapter.api_usage().calls_made - before
        per_object.setdefault((obj.crm_object, obj.module), Counts()).add(counts)

    def _push_and_record(self, lane: Lane, objects: list[ObjectMap], per_object: dict[tuple[str, str], Counts],
                         calls_before: int, *, both_ways: list[ObjectMap]) -> Counts:
        """Relay the outbox object by object (dependency order), note each object's counts on its
        cursor, and return the run's totals. Objects in `both_ways` (an initial sync, a full
        resync) first queue the local records the CRM has never had: records that were in UPM
        before the connection was made reach the CRM too. Writes other applications made first
        join the outbox (the change log, PostgreSQL)."""
        if self.outbox is not None and not lane.dry_run:
            self.outbox.relay_changes(self.db)
        for obj in objects:
            if lane.should_stop():
                break
            if (obj.direction != "to_upm" and lane.mapper(obj).outbound) or obj.writeback is not None:
                pusher = Pusher(lane, obj)
                if obj in both_ways and not lane.dry_run:
                    pusher.queue_unbound()
                self._step(per_object, obj, pusher.run)
        counts = Counts()
        for (crm_object, module), part in per_object.items():
            counts.add(part)
            counts.objects[f"{module} <-> {crm_object}"] = part
        counts.api_calls = self.adapter.api_usage().calls_made - calls_before
        if not lane.dry_run:
            self._record_run(objects, lane.started_at, per_object)
        return counts

    def resync(self, *, only: str | None = None, since: datetime | None = None, full: bool = False,
               dry_run: bool = False, should_stop: Callable[[], bool] = lambda: False,
               progress: Progress = no_progress) -> Counts:
        """Re-read from `since` (or from scratch with `full`) and reconcile. A full resync also
        archives records whose CRM records are gone (deletes the delete log no longer reaches)."""
        lane = self._lane(dry_run, should_stop, progress)
        calls_before = self.adapter.api_usage().calls_made
        objects = lane.objects(only)
        per_object: dict[tuple[str, str], Counts] = {}
        for obj in objects:
            if obj.direction == "to_crm":
                continue
            puller = Puller(lane, obj)
            if full:
                seen: set[str] = set()
                self._step(per_object, obj, lambda: self._full_read(puller, seen))
                self._step(per_object, obj, lambda: self._reconcile(lane, puller, seen))
            else:
                self._step(per_object, obj, lambda: puller.run(since, from_cursor=False))
                self._step(per_object, obj, lambda: puller.apply_deletes(since))
        return self._push_and_record(lane, objects, per_object, calls_before, both_ways=objects if full else [])

    def _full_read(self, puller: Puller, seen: set[str]) -> Counts:
        """Read everything, remembering which CRM ids exist."""
        counts = Counts()
        puller.start_delete_token()
        pages = self.adapter.read_changes(puller.obj.crm_object, None, puller.mapper.crm_read_fields)
        with puller.batches_ahead(pages) as ahead:
            for batch in ahead:
                seen.update(r.id for r in batch.records)
                puller.apply_page(batch.records, counts, complete=batch.last)
                puller.lane.progress(f"pull {puller.obj.module}", len(batch.records), None)
        return counts

    def _reconcile(self, lane: Lane, puller: Puller, seen: set[str]) -> Counts:
        """Archive records bound to CRM ids that a full read did not return."""
        counts = Counts()
        session = self.db.new_session()
        try:
            bindings = session.scalars(select(Binding).where(Binding.connection == self.connection,
                                                             Binding.module == puller.obj.module,
                                                             Binding.crm_object == puller.obj.crm_object)).all()
            for binding in bindings:
                if binding.crm_id in seen or puller.obj.on_delete == "ignore":
                    continue
                record = session.get(puller.model, binding.record_id)
                if record is not None and record.archived_at is None:
                    counts.archived += 1
                    record.archived_at = self.clock.now()
                    if lane.dry_run:
                        counts.changes.append(f"UPM {puller.obj.module} {record.id} archived: {binding.crm_id} no longer in the CRM")
            cursor = cursor_row(session, lane, puller.obj)
            cursor.needs_reconcile = False
            cursor.deletes_at = puller.ceiling
            if lane.dry_run:
                session.rollback()
            else:
                session.commit()
        finally:
            session.close()
        return counts

    def _record_run(self, objects: list[ObjectMap], started: datetime,
                    per_object: dict[tuple[str, str], Counts]) -> None:
        with self.db.session() as session:
            for obj in objects:
                cursor = cursor_row(session, self._lane(False, lambda: False), obj)
                cursor.last_run_at = started
                cursor.last_summary = per_object.get((obj.crm_object, obj.module), Counts()).line()[:500]

