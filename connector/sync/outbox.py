"""Local changes become outbox rows in the same transaction as the change.

An `OutboxRouter` knows which connections push which UPM modules. Installed on a Database, it
watches every flush: each new, changed or deleted record of a routed module adds one pending
outbox row per connection, in the flushing transaction, so the change and its row commit (or roll
back) together. A sync run marks its session with the connection it imports from
(`session.info[ORIGIN]`), so records it writes are routed to every other connection but never
echoed back to their source.

Writes from other applications (PostgreSQL) arrive through the change log its triggers fill
(`connector.store.change_log`): `relay_changes` routes them the same way, to every connection that
pushes the module; the connector's own connections are marked so the triggers skip its writes.
A partner connection has a `PartnerScope`: its rows are queued only for the records its partner
owns (`connector/sync/scope.py`), decided once per flush for all partner connections together.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, event, insert, inspect, select, update
from sqlalchemy.orm import Session

from connector.store.base import utcnow
from connector.store.change_log import ChangeLogEntry, mark_own_writes
from connector.store.database import Database
from connector.store.modules import MODULES_BY_KEY
from connector.store.outbox import OutboxEntry
from connector.store.records import Opportunity
from connector.sync.scope import PartnerScope, owners

CHANGE_LOG_KEPT = timedelta(days=7)
"""Change-log rows stay this long after they were relayed (to see what another application wrote)."""

ORIGIN = "sync_origin"
"""session.info key: the connection whose import this session writes (no outbox rows back to it)."""


class OutboxRouter:
    """Which connections push which modules: {module key: [connection, ...]}."""

    def __init__(self, routes: dict[str, list[str]] | None = None):
        self.routes: dict[str, list[str]] = defaultdict(list)
        self.scopes: dict[str, PartnerScope] = {}
        """Partner connections: connection name -> the scope of what it may receive."""
        self.fates: dict[str, set[str]] = defaultdict(set)
        """module -> connections that write a record's fate back (a lead's assignment status): they
        get rows for changes their own pull wrote too (distribution at intake changes the fate)."""
        self._swap = threading.Lock()
        for module, connections in (routes or {}).items():
            for connection in connections:
                self.add(module, connection)
        self._models = {m.model: key for key, m in MODULES_BY_KEY.items()}

    def add(self, module: str, connection: str, scope: PartnerScope | None = None, *, fate: bool = False) -> None:
        if connection not in self.routes[module]:
            self.routes[module].append(connection)
        if scope is not None:
            self.scopes[connection] = scope
        if fate:
            self.fates[module].add(connection)

    def replace(self, other: OutboxRouter) -> None:
        """Take `other`'s routes, scopes and fates (the set of connections changed at run time)."""
        with self._swap:  # `targets` never sees new routes with old scopes (a partner connection unscoped)
            self.routes, self.scopes, self.fates = other.routes, other.scopes, other.fates

    def targets(self, session: Session, module: str, record_ids: Iterable[int],
                origin: str | None, owner_hint: dict[int, set[int]] | None = None) -> dict[str, list[int]]:
        """Which connections each record goes to: every unscoped connection routed for the module,
        and each partner connection whose partner owns the record; never `origin`.
        `owner_hint`: owners already known (deleted records, which no query finds any more)."""
        ids = list(record_ids)
        with self._swap:
            routes, scopes, fates = self.routes, self.scopes, self.fates
        connections = [c for c in routes.get(module, []) if c != origin or c in fates.get(module, ())]
        scoped = [c for c in connections if c in scopes]
        found: dict[str, list[int]] = {c: ids for c in connections if c not in scopes}
        if scoped and ids:
            owning = owner_hint if owner_hint is not None else owners(session, module, ids)
            for connection in scoped:
                partner = scopes[connection].partner_id(session)
                mine = [rid for rid in ids if partner is not None and partner in owning.get(rid, ())]
                if mine:
                    found[connection] = mine
        return found

    def install(self, db: Database) -> None:
        """Watch every session `db` makes (and mark its connections, so the change log's triggers
        leave the writes this hook queues to it)."""
        event.listen(db.sessions, "after_flush", self._after_flush)
        mark_own_writes(db)

    def relay_changes(self, db: Database, *, batch: int = 1000) -> int:
        """Turn the change log's pending rows (writes other applications made, PostgreSQL) into
        outbox rows for every connection that pushes the module, and mark them done, in one
        transaction per batch; rows another daemon is relaying are skipped, not waited for. Rows
        done more than CHANGE_LOG_KEPT ago are dropped. Returns the outbox rows added."""
        if db.backend != "postgresql":
            return 0
        added = 0
        while True:
            with db.session() as session:
                entries = session.execute(
                    select(ChangeLogEntry.id, ChangeLogEntry.module, ChangeLogEntry.record_id, ChangeLogEntry.operation)
                    .where(ChangeLogEntry.processed_at.is_(None)).order_by(ChangeLogEntry.id).limit(batch)
                    .with_for_update(skip_locked=True)
                ).all()
                if not entries:
                    session.execute(delete(ChangeLogEntry).where(ChangeLogEntry.processed_at < utcnow() - CHANGE_LOG_KEPT))
                    return added
                changed: dict[tuple[str, str], dict[int, None]] = defaultdict(dict)
                for _id, module, record_id, operation in entries:
                    changed[(module, operation)][record_id] = None
                rows: list[dict[str, Any]] = []
                for (module, operation), record_ids in changed.items():
                    for connection, ids in self.targets(session, module, record_ids, None).items():
                        rows.extend({"connection": connection, "module": module, "record_id": record_id,
                                     "operation": operation, "status": "pending", "attempts": 0}
                                    for record_id in ids)
                if rows:
                    session.execute(insert(OutboxEntry), rows)
                session.execute(update(ChangeLogEntry).where(ChangeLogEntry.id.in_([e[0] for e in entries]))
                                .values(processed_at=utcnow()))
                added += len(rows)

    def queue_inserted(self, session: Session, module: str, record_ids: Iterable[int], origin: str | None) -> None:
        """Queue records written by a bulk INSERT (which no flush hook sees)."""
        record_ids = list(record_ids)
        for connection, ids in self.targets(session, module, record_ids, origin).items():
            enqueue(session, connection, module, ids)
        if module == "opportunity" and self.fates.get("prospect") and record_ids:
            leads = set(session.scalars(select(Opportunity.prospect_id).where(
                Opportunity.id.in_(record_ids), Opportunity.prospect_id.is_not(None))))
            for connection, ids in self._fate_targets(session, leads).items():
                enqueue(session, connection, "prospect", ids)

    def _fate_targets(self, session: Session, prospect_ids: Iterable[Any]) -> dict[str, list[int]]:
        """The connections writing a lead's fate back, for leads whose opportunity changed (the
        opportunity is part of the fate), whichever connection the change came from."""
        ids = [int(i) for i in prospect_ids if i is not None]
        if not ids:
            return {}
        fates = self.fates.get("prospect", set())
        return {c: found for c, found in self.targets(session, "prospect", ids, None).items() if c in fates}

    def _after_flush(self, session: Session, _context: Any) -> None:
        origin = session.info.get(ORIGIN)
        changed: dict[tuple[str, str], list[int]] = defaultdict(list)
        deleted_owners: dict[int, set[int]] = {}
        leads: set[int] = set()
        """Leads whose opportunity changed: their fate changed."""
        # each of session.new/dirty/deleted builds a new set: read once, not per instance
        for instances, operation, dirty in ((session.new, "upsert", False), (session.dirty, "upsert", True),
                                            (session.deleted, "delete", False)):
            for instance in instances:
                if isinstance(instance, Opportunity) and instance.prospect_id is not None:
                    leads.add(instance.prospect_id)
                module = self._models.get(type(instance))
                if module is None or not self.routes.get(module):
                    continue
                if dirty and not session.is_modified(instance):
                    continue
                record_id = inspect(instance).identity[0] if inspect(instance).identity else getattr(instance, "id")
                changed[(module, operation)].append(record_id)
                if operation == "delete" and getattr(instance, "partner_account_id", None) is not None:
                    deleted_owners[record_id] = {instance.partner_account_id}
        rows: list[dict[str, Any]] = []
        for (module, operation), ids in changed.items():
            hint = {i: deleted_owners.get(i, set()) for i in ids} if operation == "delete" else None
            for connection, record_ids in self.targets(session, module, ids, origin, hint).items():
                rows.extend({"connection": connection, "module": module, "record_id": record_id,
                             "operation": operation, "status": "pending", "attempts": 0} for record_id in record_ids)
        if leads and self.fates.get("prospect"):
            for connection, record_ids in self._fate_targets(session, leads).items():
                rows.extend({"connection": connection, "module": "prospect", "record_id": record_id,
                             "operation": "upsert", "status": "pending", "attempts": 0} for record_id in record_ids)
        if rows:
            session.connection().execute(insert(OutboxEntry), rows)


def enqueue(session: Session, connection: str, module: str, record_ids: Iterable[int], operation: str = "upsert") -> int:
    """Queue records for a connection explicitly (failures retry, resync of local records)."""
    rows = [{"connection": connection, "module": module, "record_id": rid, "operation": operation,
             "status": "pending", "attempts": 0} for rid in record_ids]
    if rows:
        session.execute(insert(OutboxEntry), rows)
    return len(rows)
