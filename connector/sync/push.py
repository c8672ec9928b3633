"""Push: the outbox relay. Pending rows are sent in full batches (the adapter's maximum): records
new to the CRM are upserted by external id, records already bound are updated by CRM id (a record
created in the CRM may not carry our external id until this first update writes it), and each
row is marked by its own record's result.

A crash after the CRM accepted a batch but before the rows were marked re-sends it: the upsert by
external id, or the update by id, makes that a repeat of the same write, never a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import distinct, func, select, update
from sqlalchemy.orm import Session

from connector.adapters.base import WriteResult
from connector.mapping.mapper import Mapper, MappingError
from connector.mapping.profile import ObjectMap
from connector.mapping.through import read_through
from connector.store.bindings import Binding
from connector.store.failures import FailedRecord
from connector.store.outbox import OutboxEntry
from connector.store.partners import PartnerUser
from connector.sync.binder import Binder
from connector.sync.lane import Lane
from connector.sync.merge import same, to_plain
from connector.sync.outbox import enqueue
from connector.sync.summary import Counts, field_changes
from connector.sync.writeback import KEY as WRITEBACK, fate

OWNER = "owner:email"
"""The rep's email among a lead's pushed values (the profile's `owner`): a new rep re-sends the owner."""

MAX_ATTEMPTS = 5
"""A record the CRM keeps refusing for a transient reason goes to failed records after this."""


@dataclass
class Outgoing:
    """One record to send: the CRM fields, the UPM values they carry, its outbox rows, and the CRM
    record it updates (None: new to the CRM, upserted by external id)."""

    record_id: int
    payload: dict[str, Any]
    upm_sent: dict[str, Any]
    rows: list[OutboxEntry]
    crm_id: str | None


@dataclass
class PushBatch:
    """What one batch of outbox rows came to."""

    counts: Counts
    last_id: int
    """The newest outbox row it covered: the next batch starts after it."""
    more: bool
    """Rows were found (there may be more after `last_id`)."""
    records: int = 0
    """The distinct records its rows were for."""


class Pusher:
    """Relays one module's outbox rows for one connection.

    A batch goes through the same steps, one method each: read (pending rows) -> local records
    -> map (or fail, or skip) -> send (creates, updates) -> record each result -> commit."""

    def __init__(self, lane: Lane, obj: ObjectMap):
        self.lane = lane
        self.obj = obj
        self.mapper: Mapper = lane.mapper(obj)
        self.model = self.mapper.module.model
        self.pushes_fields = obj.direction != "to_upm" and bool(self.mapper.outbound)
        """The object's own fields go to the CRM (else only its write-back does)."""
        self.writeback = obj.writeback.fields() if obj.writeback else {}
        """{fate item: CRM field}: the lead's fate written to the CRM's lead."""

    def run(self) -> Counts:
        """Send the pending rows batch after batch, until none are left (or the run is stopped)."""
        counts = Counts()
        last_id = 0
        step, total = f"push {self.obj.module}", self._pending_records()
        while not self.lane.should_stop():
            batch = self._one_batch(last_id)
            counts.add(batch.counts)
            if not batch.more:
                break
            last_id = batch.last_id
            self.lane.progress(step, batch.records, total)
        return counts

    def queue_unbound(self) -> int:
        """Queue every live local record of the module that this connection has never bound and
        has no pending row for (an initial sync and a full resync go both ways); how many."""
        if not self.pushes_fields:
            return 0
        connection, module = self.lane.connection, self.obj.module
        with self.lane.db.session() as session:
            bound = select(Binding.record_id).where(Binding.connection == connection, Binding.module == module)
            pending = select(OutboxEntry.record_id).where(OutboxEntry.connection == connection,
                                                          OutboxEntry.module == module, OutboxEntry.status == "pending")
            query = select(self.model.id).where(self.model.id.not_in(bound), self.model.id.not_in(pending))
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

    def _pending(self, session: Session, after_id: int) -> list[OutboxEntry]:
        """Up to one adapter batch of distinct records (later rows for the same record coalesce)."""
        rows = session.scalars(
            select(OutboxEntry)
            .where(OutboxEntry.connection == self.lane.connection, OutboxEntry.module == self.obj.module,
                   OutboxEntry.status == "pending", OutboxEntry.id > after_id)
            .order_by(OutboxEntry.id)
            .limit(self.lane.adapter.max_upsert_batch * 2)
        ).all()
        chosen: dict[int, list[OutboxEntry]] = {}
        for row in rows:
            if row.record_id in chosen or len(chosen) < self.lane.adapter.max_upsert_batch:
                chosen.setdefault(row.record_id, []).append(row)
        return [row for group in chosen.values() for row in group]

    def _one_batch(self, after_id: int) -> PushBatch:
        """One batch of outbox rows in one transaction."""
        counts = Counts()
        session = self.lane.db.new_session()
        try:
            rows = self._pending(session, after_id)
            if not rows:
                return PushBatch(counts, after_id, more=False)
            by_record: dict[int, list[OutboxEntry]] = {}
            for row in rows:
                by_record.setdefault(row.record_id, []).append(row)
            self._out_of_scope(session, by_record)
            binder = Binder(session, self.lane.connection)
            binder.load_records(self.obj.module, by_record)
            records = {r.id: r for r in session.scalars(select(self.model).where(self.model.id.in_(list(by_record))))}
            related = read_through(session, self.mapper.through, records.values()) if self.mapper.through else {}
            outgoing = [o for record_id, group in by_record.items()
                        if (o := self._map(session, binder, records.get(record_id), record_id, related.get(record_id, {}), group, counts))]
            if self.writeback:
                outgoing = self._with_fate(session, binder, records, by_record, outgoing)
            if self.lane.dry_run:
                self._describe(binder, outgoing, counts)
                session.rollback()
            else:
                self._send(session, binder, outgoing, counts)
                session.commit()
            return PushBatch(counts, rows[-1].id, more=True, records=len(by_record))
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _out_of_scope(self, session: Session, by_record: dict[int, list[OutboxEntry]]) -> None:
        """A partner connection: rows for records its partner no longer owns (a lead reassigned or
        pulled back since it was queued) are skipped, and their records left out of the batch."""
        if self.lane.scope is None:
            return
        allowed = self.lane.scope.allowed(session, self.obj.module, by_record)
        for record_id in [r for r in by_record if r not in allowed]:
            rows = by_record.pop(record_id)
            for row in rows:
                row.last_error = "out of scope: not this partner's record"
            self._mark(rows, "skipped")

    def _map(self, session: Session, binder: Binder, record: Any, record_id: int, related: dict[str, Any],
             rows: list[OutboxEntry], counts: Counts) -> Outgoing | None:
        """What to send for one record; None when it failed to map or has nothing to send (its
        rows are marked either way)."""
        try:
            outcome = self._payload(binder, record, record_id, related)
        except MappingError as exc:
            counts.failed += 1
            local = {n: getattr(record, n) for n in self.mapper.upm_read_fields} | related
            self._fail(session, record_id, self.mapper.external_id(record_id), "MAPPING", str(exc), local)
            self._mark(rows, "failed")
            return None
        if outcome is None:
            if not self.writeback:
                self._mark(rows, "skipped")
            return None  # with a write-back, its fate may still go (_with_fate)
        payload, upm_sent = outcome
        return Outgoing(record_id, payload, upm_sent, rows, binder.crm_id_for(self.obj.module, record_id))

    def _with_fate(self, session: Session, binder: Binder, records: dict[int, Any],
                   by_record: dict[int, list[OutboxEntry]], outgoing: list[Outgoing]) -> list[Outgoing]:
        """Add to each bound lead's write the fate items that changed since they were last written
        (a lead whose fields had nothing to send, but whose fate changed, is sent for its fate alone)."""
        by_id = {o.record_id: o for o in outgoing}
        for record_id, rows in by_record.items():
            if record_id not in by_id and rows[0].status != "pending":
                continue  # failed to map
            record = records.get(record_id)
            binding = binder.by_record(self.obj.module, record_id)
            now = fate(session, record) if record is not None and binding is not None else {}
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

    def _describe(self, binder: Binder, outgoing: list[Outgoing], counts: Counts) -> None:
        """Dry run: what would be sent: a new record's fields, an update's fields from the values
        both sides held at the last sync to the UPM values sent."""
        for o in outgoing:
            head = f"{self.obj.crm_object} {o.crm_id or 'new ' + str(o.payload[self.obj.key.crm])} <- UPM {self.obj.module} {o.record_id}"
            binding = binder.by_record(self.obj.module, o.record_id) if o.crm_id is not None else None
            if binding is None:
                counts.changes.append(f"{head}: {sorted(o.payload)}")
                continue
            base = binding.synced_values or {}
            changed = {k: v for k, v in o.upm_sent.items() if not same(v, base.get(k))}
            counts.changes.append(f"{head}: {field_changes(base, changed) if changed else 'no field differs from the last sync'}")
        counts.pushed += len(outgoing)

    def _send(self, session: Session, binder: Binder, outgoing: list[Outgoing], counts: Counts) -> None:
        """Creates upserted by external id, updates by CRM id; each record marked by its own result."""
        creates = [o for o in outgoing if o.crm_id is None]
        updates = [o for o in outgoing if o.crm_id is not None]
        if creates:
            results = self.lane.adapter.upsert(self.obj.crm_object, self.obj.key.crm, [o.payload for o in creates])
            for o, result in zip(creates, results):
                self._record_result(session, binder, o, result, counts)
        if updates:
            results = self.lane.adapter.update(self.obj.crm_object, [(o.crm_id, o.payload) for o in updates if o.crm_id])
            for o, result in zip(updates, results):
                self._record_result(session, binder, o, result, counts)

    def _payload(self, binder: Binder, record: Any, record_id: int,
                 related: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The CRM fields to send for a record (`related`: its values read through relations), and
        the UPM values they carry; None when there is nothing to send. Raises MappingError when the
        record cannot be mapped."""
        if record is None or getattr(record, "archived_at", None) is not None or not self.pushes_fields:
            return None
        binding = binder.by_record(self.obj.module, record_id)
        creating = binding is None
        if not creating and self.lane.profile.mode != "advanced":
            return None  # basic/complete: UPM records are pushed once; afterwards the CRM is master
        local = {name: getattr(record, name) for name in self.mapper.upm_read_fields} | related
        if self.obj.owner is not None:
            local[OWNER] = self._rep_email(record)
        upm_fields = set(local)
        base = (binding.synced_values or {}) if binding else {}
        changed = None if creating else {k for k, v in local.items() if not same(v, base.get(k))}
        if changed is not None and not changed:
            return None  # the mapped fields hold what the CRM already has (e.g. a pulled change)
        payload = self.mapper.to_crm({k: v for k, v in local.items() if k != OWNER}, binder.crm_id_for,
                                     creating=creating, only=None if changed is None else changed - {OWNER})
        payload[self.obj.key.crm] = self.mapper.external_id(record_id)
        if self.obj.owner is not None and (changed is None or OWNER in changed):
            if owner := self.lane.owner_id(local[OWNER]):
                payload[self.obj.owner.crm] = owner
        return payload, {k: local[k] for k in (changed if changed is not None else upm_fields)}

    @staticmethod
    def _rep_email(record: Any) -> str | None:
        """The email of the partner rep holding a lead."""
        session = Session.object_session(record)
        rep = session.get(PartnerUser, record.assigned_user_id) if session and record.assigned_user_id else None
        return rep.email if rep is not None else None

    def _record_result(self, session: Session, binder: Binder, outgoing: Outgoing, result: WriteResult,
                       counts: Counts) -> None:
        """Bind a record the CRM took, with the values it now holds as the base (so reading it
        back is no change and no conflict); retry or fail one it refused."""
        record_id, upm_sent, payload, rows = outgoing.record_id, outgoing.upm_sent, outgoing.payload, outgoing.rows
        if result.ok and result.crm_id:
            result = self._link(binder, result, upm_sent)
        if result.ok and result.crm_id:
            binding = binder.by_record(self.obj.module, record_id)
            base = dict(binding.synced_values or {}) if binding else {}
            base.update(to_plain(upm_sent))
            binder.bind(self.obj.module, record_id, self.obj.crm_object, result.crm_id, base, None, self.lane.clock.now())
            counts.pushed += 1
            self._mark(rows, "sent")
            return
        attempts = max(r.attempts for r in rows) + 1
        if result.retriable and attempts < MAX_ATTEMPTS:
            session.execute(update(OutboxEntry).where(OutboxEntry.id.in_([r.id for r in rows]))
                            .values(attempts=attempts, last_error=f"{result.error_code}: {result.error_message}"))
            return
        counts.failed += 1
        self._fail(session, record_id, payload.get(self.obj.key.crm), result.error_code, result.error_message or "", payload)
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

    def _fail(self, session: Session, record_id: int, external_id: Any, code: str | None, message: str, payload: dict[str, Any]) -> None:
        session.add(FailedRecord(connection=self.lane.connection, direction="to_crm", module=self.obj.module,
                                 crm_object=self.obj.crm_object, record_id=record_id,
                                 external_id=None if external_id is None else str(external_id),
                                 error_code=code, error_message=message, payload=to_plain(payload)))

    def _mark(self, rows: list[OutboxEntry], status: str) -> None:
        now = self.lane.clock.now()
        for row in rows:
            row.status = status
            row.attempts += 1
            if status == "sent":
                row.sent_at = now
