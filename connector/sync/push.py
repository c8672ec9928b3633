"""Push: the outbox relay. Pending rows are read, mapped and committed in batches of PUSH_BATCH
records and sent in full adapter calls (at most the adapter's `max_upsert_batch` each): records
new to the CRM are upserted by external id, records already bound are updated by CRM id (a record
created in the CRM may not carry our external id until this first update writes it), and each
row is marked by its own record's result.

A crash after the CRM accepted a batch but before the rows were marked re-sends it: the upsert by
external id, or the update by id, makes that a repeat of the same write, never a duplicate.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import distinct, func, select, update
from sqlalchemy.orm import Session

from connector.adapters.base import WriteResult
from connector.mapping.mapper import Mapper, MappingError
from connector.mapping.profile import ObjectMap
from connector.mapping.through import read_through
from connector.store.bindings import Binding, rebase
from connector.store.failures import FailedRecord
from connector.store.lists import one_of
from connector.store.outbox import OutboxEntry
from connector.store.partners import PartnerUser
from connector.sync.binder import Binder
from connector.sync.lane import Lane
from connector.sync.merge import same, to_plain
from connector.sync.outbox import enqueue
from connector.sync.summary import Counts, field_changes
from connector.sync.writeback import KEY as WRITEBACK, fate

_PLAIN = (str, int, bool)

PUSH_BATCH = 1000
"""Records read, mapped, recorded and committed together, sent in as many adapter calls as the
adapter's batch limit needs (HubSpot: ten calls of 100; Salesforce: one of 1,000). A datastore
transaction per CRM call would cost HubSpot's pushes ten times the reading and committing."""


def unchanged(value: Any, base: Any) -> bool:
    """`same`, with the common case first: a plain value equal to its base (JSON-stored echo values
    come back as str, int, bool or None; numbers as floats)."""
    if value is base or (type(value) is type(base) and type(value) in _PLAIN and value == base):
        return True
    if type(value) is int and type(base) is float:
        return value == base
    return same(value, base)


OWNER = "owner:email"
"""The rep's email among a lead's pushed values (the profile's `owner`): a new rep re-sends the owner."""

MAX_ATTEMPTS = 5
"""A record the CRM keeps refusing for a transient reason goes to failed records after this."""


@dataclass
class Queued:
    """One outbox row as a batch reads it; its outcome is written with the batch (one UPDATE per
    outcome, `_write_marks`)."""

    id: int
    record_id: int
    attempts: int
    status: str = "pending"
    last_error: str | None = None


@dataclass
class Bound:
    """A record's binding over this connection, as a batch reads it."""

    id: int
    crm_object: str
    crm_id: str
    synced_values: dict[str, Any] | None


@dataclass
class Outgoing:
    """One record to send: the CRM fields, the UPM values they carry, its outbox rows, and the CRM
    record it updates (None: new to the CRM, upserted by external id)."""

    record_id: int
    payload: dict[str, Any]
    upm_sent: dict[str, Any]
    rows: list[Queued]
    crm_id: str | None


@dataclass
class Prepared:
    """One batch read and mapped, in its own session (which has written nothing yet), waiting to be
    sent; what its results write is gathered here and written before its commit."""

    session: Session
    binder: Binder
    rows: list[Queued]
    by_record: dict[int, list[Queued]]
    """The rows by record, less those left out of the batch (out of a partner's scope)."""
    bound: dict[int, Bound]
    last_id: int
    counts: Counts = field(default_factory=Counts)
    outgoing: list[Outgoing] = field(default_factory=list)
    failures: list[FailedRecord] = field(default_factory=list)
    rebound: list[tuple[int, dict[str, Any], None]] = field(default_factory=list)
    """Bindings that keep their CRM record and take new echo values: (binding id, values, None)."""

    def close(self) -> None:
        self.session.rollback()
        self.session.close()


LATER = object()
"""`_prepare`'s answer when the next rows name a record of the batch in flight: read them after it."""


class Pusher:
    """Relays one module's outbox rows for one connection.

    A batch goes through the same steps, one method each: read (pending rows) -> local records
    -> map (or fail, or skip) -> send (creates, updates) -> record each result -> commit. While
    one batch is with the CRM (a worker thread waits for its answer), the next one is read and
    mapped, and once the answer is in, that next batch is sent while the first one's results are
    recorded (`overlaps`): the CRM is kept busy and the datastore's work is done meanwhile. Results
    are still recorded and committed batch after batch, in order; a crash between the next batch's
    send and the first one's commit re-sends both, which repeats their writes (upsert by external
    id, update by CRM id), never duplicates them."""

    def __init__(self, lane: Lane, obj: ObjectMap):
        self.lane = lane
        self.obj = obj
        self.mapper: Mapper = lane.mapper(obj)
        self.model = self.mapper.module.model
        self.pushes_fields = obj.direction != "to_upm" and bool(self.mapper.outbound)
        """The object's own fields go to the CRM (else only its write-back does)."""
        self.writeback = obj.writeback.fields() if obj.writeback else {}
        """{fate item: CRM field}: the lead's fate written to the CRM's lead."""
        self.read_fields = sorted(self.mapper.upm_read_fields)
        self.plain = not self.mapper.through and obj.owner is None and not self.writeback
        """Records are read as plain rows (no relation, rep or fate is read from them)."""
        self.overlaps = not lane.dry_run and obj.owner is None and not any(
            f.relation == obj.module or f.relation_from is not None for f in self.mapper.outbound)
        """The next batch is mapped while one is sent: not when mapping asks the CRM (rep owners) or
        may resolve a relation to a record of this module that the batch in flight creates."""

    def run(self) -> Counts:
        """Send the pending rows batch after batch, until none are left (or the run is stopped)."""
        counts = Counts()
        step, total = f"push {self.obj.module}", self._pending_records()
        if self.lane.should_stop():
            return counts
        with ThreadPoolExecutor(1, thread_name_prefix="push") if self.overlaps else nullcontext() as pool:
            current = self._prepare(0)
            sending: Future[list[tuple[Outgoing, WriteResult]]] | None = None
            while isinstance(current, Prepared):
                ahead: Prepared | object | None = None
                try:
                    if self.lane.dry_run:
                        self._describe(current, current.outgoing, current.counts)
                        current.close()
                    elif pool is None:
                        self._finish(current, self._send(current.outgoing))
                    else:
                        if sending is None:  # else it went while the batch before was recorded
                            sending = pool.submit(self._send, current.outgoing)
                        if not self.lane.should_stop():
                            ahead = self._prepare(current.last_id, avoid=current.by_record)
                        results = sending.result()
                        # the next batch goes to the CRM while this one's results are written
                        sending = pool.submit(self._send, ahead.outgoing) if isinstance(ahead, Prepared) else None
                        self._finish(current, results)
                except BaseException:
                    current.close()
                    if isinstance(ahead, Prepared):
                        ahead.close()
                    raise
                counts.add(current.counts)
                self.lane.progress(step, len(current.by_record), total)
                if isinstance(ahead, Prepared):
                    current = ahead  # already with the CRM: its results are written even when stopping
                elif self.lane.should_stop():
                    break
                else:
                    current = self._prepare(current.last_id)
        return counts

    def queue_unbound(self) -> int:
        """Queue every live local record of the module that this connection has never bound and
        has no pending row for (an initial sync and a full resync go both ways); how many."""
        if not self.pushes_fields:
            return 0
        connection, module = self.lane.connection, self.obj.module
        with self.lane.db.session() as session:
            # NOT EXISTS, not NOT IN: PostgreSQL plans NOT IN (subquery) as a subplan scanned per row
            # once the subquery outgrows work_mem (over 20 minutes at 1,000,000 bound records);
            # NOT EXISTS is an anti-join (hash or index) that PostgreSQL and SQLite plan in one pass.
            bound = select(Binding.id).where(Binding.connection == connection, Binding.module == module,
                                             Binding.record_id == self.model.id)
            pending = select(OutboxEntry.id).where(OutboxEntry.connection == connection, OutboxEntry.module == module,
                                                   OutboxEntry.status == "pending", OutboxEntry.record_id == self.model.id)
            query = select(self.model.id).where(~bound.exists(), ~pending.exists())
            if hasattr(self.model, "archived_at"):
                query = query.where(self.model.archived_at.is_(None))
            ids = list(session.scalars(query.order_by(self.model.id)))
            if self.lane.scope is not None:
                allowed = self.lane.scope.allowed(session, module, ids)
                ids = [i for i in ids if i in allowed]
            return enqueue(session, connection, module, ids)

    def _pending_records(self) -> int:
        """How many distinct records the module's pending rows are for (the push's total)."""
        with self.lane.db.session() as session:
            return session.scalar(select(func.count(distinct(OutboxEntry.record_id)))
                                  .where(OutboxEntry.connection == self.lane.connection,
                                         OutboxEntry.module == self.obj.module, OutboxEntry.status == "pending")) or 0

    def _batch_records(self) -> int:
        """Distinct records a batch holds: PUSH_BATCH, in whole adapter calls (at least one)."""
        per_call = self.lane.adapter.max_upsert_batch
        return max(1, PUSH_BATCH // per_call) * per_call

    def _pending(self, session: Session, after_id: int) -> list[Queued]:
        """Up to one batch of distinct records (later rows for the same record coalesce)."""
        size = self._batch_records()
        rows = session.execute(
            select(OutboxEntry.id, OutboxEntry.record_id, OutboxEntry.attempts)
            .where(OutboxEntry.connection == self.lane.connection, OutboxEntry.module == self.obj.module,
                   OutboxEntry.status == "pending", OutboxEntry.id > after_id)
            .order_by(OutboxEntry.id)
            .limit(size * 2)
        ).all()
        chosen: dict[int, list[Queued]] = {}
        for row_id, record_id, attempts in rows:
            if record_id in chosen or len(chosen) < size:
                chosen.setdefault(record_id, []).append(Queued(row_id, record_id, attempts))
        return [row for group in chosen.values() for row in group]

    def _prepare(self, after_id: int, avoid: Collection[int] = ()) -> Prepared | object | None:
        """Read and map the batch after `after_id` in a new session: None when no rows are left;
        LATER when they name a record in `avoid` (the batch in flight: its base is not written yet)."""
        session = self.lane.db.new_session()
        try:
            rows = self._pending(session, after_id)
            if not rows:
                session.close()
                return None
            by_record: dict[int, list[Queued]] = {}
            for row in rows:
                by_record.setdefault(row.record_id, []).append(row)
            if not by_record.keys().isdisjoint(avoid):
                session.close()
                return LATER
            batch = Prepared(session, Binder(session, self.lane.connection), rows, by_record, {}, rows[-1].id)
            self._out_of_scope(batch)
            batch.bound = self._bound(session, list(by_record))
            records = self._records(session, list(by_record))
            related = read_through(session, self.mapper.through, records.values()) if self.mapper.through else {}
            batch.outgoing = [o for record_id, group in by_record.items()
                              if (o := self._map(batch, records.get(record_id), record_id, related.get(record_id, {}), group))]
            if self.writeback:
                batch.outgoing = self._with_fate(batch, records, batch.outgoing)
            return batch
        except BaseException:
            session.rollback()
            session.close()
            raise

    def _bound(self, session: Session, record_ids: list[int]) -> dict[int, Bound]:
        """The bindings of these records over this connection (plain rows, in IN lists of 500)."""
        found: dict[int, Bound] = {}
        for start in range(0, len(record_ids), 500):
            for b_id, record_id, crm_object, crm_id, values in session.execute(
                    select(Binding.id, Binding.record_id, Binding.crm_object, Binding.crm_id, Binding.synced_values)
                    .where(Binding.connection == self.lane.connection, Binding.module == self.obj.module,
                           one_of(Binding.record_id, record_ids[start:start + 500], self.lane.db.backend))):
                found[record_id] = Bound(b_id, crm_object, crm_id, values)
        return found

    def _records(self, session: Session, record_ids: list[int]) -> dict[int, Any]:
        """The local records: plain rows of the fields a push reads when nothing else is read from
        them (`plain`), else the mapped objects."""
        if not self.plain:
            wanted = one_of(self.model.id, record_ids, self.lane.db.backend)
            return {r.id: r for r in session.scalars(select(self.model).where(wanted))}
        table = self.model.__table__
        names = ["id", *self.read_fields, *(["archived_at"] if "archived_at" in table.c else [])]
        wanted = one_of(table.c.id, record_ids, self.lane.db.backend)
        query = select(*(table.c[n] for n in dict.fromkeys(names))).where(wanted)
        return {row.id: row for row in session.execute(query)}

    def _out_of_scope(self, batch: Prepared) -> None:
        """A partner connection: rows for records its partner no longer owns (a lead reassigned or
        pulled back since it was queued) are skipped, and their records left out of the batch."""
        if self.lane.scope is None:
            return
        allowed = self.lane.scope.allowed(batch.session, self.obj.module, batch.by_record)
        for record_id in [r for r in batch.by_record if r not in allowed]:
            rows = batch.by_record.pop(record_id)
            for row in rows:
                row.last_error = "out of scope: not this partner's record"
            self._mark(rows, "skipped")

    def _map(self, batch: Prepared, record: Any, record_id: int, related: dict[str, Any],
             rows: list[Queued]) -> Outgoing | None:
        """What to send for one record; None when it failed to map or has nothing to send (its
        rows are marked either way)."""
        bound = batch.bound.get(record_id)
        try:
            outcome = self._payload(batch.binder, record, record_id, bound, related)
        except MappingError as exc:
            batch.counts.failed += 1
            local = {n: getattr(record, n) for n in self.read_fields} | related
            self._fail(batch, record_id, self.mapper.external_id(record_id), "MAPPING", str(exc), local)
            self._mark(rows, "failed")
            return None
        if outcome is None:
            if not self.writeback:
                self._mark(rows, "skipped")
            return None  # with a write-back, its fate may still go (_with_fate)
        payload, upm_sent = outcome
        return Outgoing(record_id, payload, upm_sent, rows, None if bound is None else bound.crm_id)

    def _with_fate(self, batch: Prepared, records: dict[int, Any], outgoing: list[Outgoing]) -> list[Outgoing]:
        """Add to each bound lead's write the fate items that changed since they were last written
        (a lead whose fields had nothing to send, but whose fate changed, is sent for its fate alone)."""
        by_id = {o.record_id: o for o in outgoing}
        for record_id, rows in batch.by_record.items():
            if record_id not in by_id and rows[0].status != "pending":
                continue  # failed to map
            record = records.get(record_id)
            binding = batch.bound.get(record_id)
            now = fate(batch.session, record) if record is not None and binding is not None else {}
            base = (binding.synced_values or {}) if binding is not None else {}
            changed = {name: now[name] for name in self.writeback if now and not same(now[name], base.get(WRITEBACK + name))}
            o = by_id.get(record_id)
            if not changed:
                if o is None:
                    self._mark(rows, "skipped")
                continue
            if o is None:
                assert binding is not None
                o = by_id[record_id] = Outgoing(record_id, {}, {}, rows, binding.crm_id)
            o.payload.update({self.writeback[name]: value for name, value in changed.items()})
            o.upm_sent.update({WRITEBACK + name: value for name, value in changed.items()})
        return list(by_id.values())

    def _describe(self, batch: Prepared, outgoing: list[Outgoing], counts: Counts) -> None:
        """Dry run: what would be sent: a new record's fields, an update's fields from the values
        both sides held at the last sync to the UPM values sent."""
        for o in outgoing:
            head = f"{self.obj.crm_object} {o.crm_id or 'new ' + str(o.payload[self.obj.key.crm])} <- UPM {self.obj.module} {o.record_id}"
            binding = batch.bound.get(o.record_id) if o.crm_id is not None else None
            if binding is None:
                counts.changes.append(f"{head}: {sorted(o.payload)}")
                continue
            base = binding.synced_values or {}
            changed = {k: v for k, v in o.upm_sent.items() if not same(v, base.get(k))}
            counts.changes.append(f"{head}: {field_changes(base, changed) if changed else 'no field differs from the last sync'}")
        counts.pushed += len(outgoing)

    def _send(self, outgoing: list[Outgoing]) -> list[tuple[Outgoing, WriteResult]]:
        """Creates upserted by external id, updates by CRM id, in calls of at most the adapter's
        batch limit: each record with its own result. Only the adapter is used (this runs in the
        worker thread while the next batch is mapped)."""
        creates = [o for o in outgoing if o.crm_id is None]
        updates = [o for o in outgoing if o.crm_id is not None]
        per_call = self.lane.adapter.max_upsert_batch
        answered: list[tuple[Outgoing, WriteResult]] = []
        for start in range(0, len(creates), per_call):
            chunk = creates[start:start + per_call]
            results = self.lane.adapter.upsert(self.obj.crm_object, self.obj.key.crm, [o.payload for o in chunk])
            answered.extend(zip(chunk, results))
        for start in range(0, len(updates), per_call):
            chunk = updates[start:start + per_call]
            results = self.lane.adapter.update(self.obj.crm_object, [(o.crm_id, o.payload) for o in chunk if o.crm_id])
            answered.extend(zip(chunk, results))
        return answered

    def _finish(self, batch: Prepared, answered: list[tuple[Outgoing, WriteResult]]) -> None:
        """Record each result, write the batch's bindings, failures and row outcomes, and commit."""
        new = [o.record_id for o, _ in answered if o.record_id not in batch.bound]
        if new:  # creates: their bindings (and any binding of the CRM ids they got) read in two queries
            batch.binder.load_records(self.obj.module, new)
            batch.binder.load_crm_ids(self.obj.module, [r.crm_id for o, r in answered
                                                        if o.record_id not in batch.bound and r.crm_id])
        for o, result in answered:
            self._record_result(batch, o, result)
        session = batch.session
        rebase(session.connection(), batch.rebound, self.lane.clock.now())
        session.add_all(batch.failures)
        self._write_marks(session, batch.rows)
        session.commit()
        session.close()

    def _payload(self, binder: Binder, record: Any, record_id: int, binding: Bound | None,
                 related: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The CRM fields to send for a record (`related`: its values read through relations), and
        the UPM values they carry; None when there is nothing to send. Raises MappingError when the
        record cannot be mapped."""
        if record is None or getattr(record, "archived_at", None) is not None or not self.pushes_fields:
            return None
        creating = binding is None
        if not creating and self.lane.profile.mode != "advanced":
            return None  # basic/complete: UPM records are pushed once; afterwards the CRM is master
        local = {name: getattr(record, name) for name in self.read_fields} | related
        if self.obj.owner is not None:
            local[OWNER] = self._rep_email(record)
        base = (binding.synced_values or {}) if binding is not None else {}
        changed = None if creating else {k for k, v in local.items() if not unchanged(v, base.get(k))}
        if changed is not None and not changed:
            return None  # the mapped fields hold what the CRM already has (e.g. a pulled change)
        payload = self.mapper.to_crm({k: v for k, v in local.items() if k != OWNER}, binder.crm_id_for,
                                     creating=creating, only=None if changed is None else changed - {OWNER})
        payload[self.obj.key.crm] = self.mapper.external_id(record_id)
        if self.obj.owner is not None and (changed is None or OWNER in changed):
            if owner := self.lane.owner_id(local[OWNER]):
                payload[self.obj.owner.crm] = owner
        return payload, (local if changed is None else {k: local[k] for k in changed})

    @staticmethod
    def _rep_email(record: Any) -> str | None:
        """The email of the partner rep holding a lead."""
        session = Session.object_session(record)
        rep = session.get(PartnerUser, record.assigned_user_id) if session and record.assigned_user_id else None
        return rep.email if rep is not None else None

    def _record_result(self, batch: Prepared, outgoing: Outgoing, result: WriteResult) -> None:
        """Bind a record the CRM took, with the values it now holds as the base (so reading it
        back is no change and no conflict); retry or fail one it refused."""
        record_id, upm_sent, payload, rows = outgoing.record_id, outgoing.upm_sent, outgoing.payload, outgoing.rows
        if result.ok and result.crm_id:
            result = self._link(batch.binder, result, upm_sent)
        if result.ok and result.crm_id:
            bound = batch.bound.get(record_id)
            base = dict(bound.synced_values or {}) if bound is not None else {}
            base.update(to_plain(upm_sent))
            if bound is not None and bound.crm_id == result.crm_id and bound.crm_object == self.obj.crm_object:
                batch.rebound.append((bound.id, base, None))
            else:
                batch.binder.bind(self.obj.module, record_id, self.obj.crm_object, result.crm_id, base, None,
                                  self.lane.clock.now())
            batch.counts.pushed += 1
            self._mark(rows, "sent")
            return
        attempts = max(r.attempts for r in rows) + 1
        if result.retriable and attempts < MAX_ATTEMPTS:
            retried = one_of(OutboxEntry.id, [r.id for r in rows], self.lane.db.backend)
            batch.session.execute(update(OutboxEntry).where(retried)
                                  .values(attempts=attempts, last_error=f"{result.error_code}: {result.error_message}"))
            return
        batch.counts.failed += 1
        self._fail(batch, record_id, payload.get(self.obj.key.crm), result.error_code, result.error_message or "", payload)
        for row in rows:
            row.last_error = f"{result.error_code}: {result.error_message}"
        self._mark(rows, "failed")

    def _link(self, binder: Binder, written: WriteResult, upm_sent: dict[str, Any]) -> WriteResult:
        """Associate the written record with the records its link fields name (HubSpot v4; linking
        twice is harmless). A target not in the CRM yet is skipped. A refused link is the record's
        result: it stays unbound, so a retry upserts it again by external id and links it."""
        assert written.crm_id is not None
        for module, target_id in self.mapper.link_targets(upm_sent):
            target = binder.by_record(module, target_id)
            if target is None:
                continue
            links = self.lane.adapter.associate(  # type: ignore[attr-defined]  # links are HubSpot-only (checked at load)
                self.obj.crm_object, written.crm_id, target.crm_object, [target.crm_id])
            for linked in links:
                if not linked.ok:
                    message = f"link to {target.crm_object} {target.crm_id}: {linked.error_message}"
                    return WriteResult(key=written.key, outcome="failed", error_code=linked.error_code,
                                       error_message=message, retriable=linked.retriable)
        return written

    def _fail(self, batch: Prepared, record_id: int, external_id: Any, code: str | None, message: str,
              payload: dict[str, Any]) -> None:
        """A failed record, written with the batch (a batch being mapped writes nothing yet)."""
        batch.failures.append(FailedRecord(
            connection=self.lane.connection, direction="to_crm", module=self.obj.module, crm_object=self.obj.crm_object,
            record_id=record_id, external_id=None if external_id is None else str(external_id), error_code=code,
            error_message=message, payload=to_plain(payload)))

    @staticmethod
    def _mark(rows: list[Queued], status: str) -> None:
        for row in rows:
            row.status = status

    def _write_marks(self, session: Session, rows: list[Queued]) -> None:
        """The rows' outcomes: one UPDATE per (status, error) for up to 500 rows each (attempts
        counted up, `sent_at` stamped on the sent ones)."""
        outcomes: dict[tuple[str, str | None], list[int]] = {}
        for row in rows:
            if row.status != "pending":
                outcomes.setdefault((row.status, row.last_error), []).append(row.id)
        now = self.lane.clock.now()
        for (status, error), ids in outcomes.items():
            values: dict[str, Any] = {"status": status, "attempts": OutboxEntry.attempts + 1}
            if error is not None:
                values["last_error"] = error
            if status == "sent":
                values["sent_at"] = now
            for start in range(0, len(ids), 500):
                chunk = one_of(OutboxEntry.id, ids[start:start + 500], self.lane.db.backend)
                session.execute(update(OutboxEntry).where(chunk).values(**values))
