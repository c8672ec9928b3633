"""Leads as a CRM knows them (`CONNECTION:CRM_ID`), fetched from the CRM at once when the connector
has not synced them yet: the Assign to Partner page opened on a lead created a minute ago finds it
without waiting for the next cycle."""

from __future__ import annotations

import threading

from sqlalchemy import select

from connector.leads.errors import NotFound
from connector.runtime import Runtime
from connector.store.bindings import Binding
from connector.sync.engine import SyncEngine

MODULE = "prospect"


class CrmLeads:
    """Finds a lead by its CRM id, fetching it (one API call) and creating the prospect when unknown.
    One engine per connection is kept (its adapter's connections and tokens stay warm)."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._engines: dict[str, SyncEngine] = {}
        self._lock = threading.Lock()

    def bound(self, connection: str, crm_id: str) -> int | None:
        """The UPM prospect bound to this CRM record, if synced."""
        with self.runtime.db.session() as session:
            return session.scalar(select(Binding.record_id).where(
                Binding.connection == connection, Binding.module == MODULE, Binding.crm_id == crm_id))

    def prospect_id(self, connection: str, crm_id: str) -> int:
        """The prospect for `connection`'s lead `crm_id`: bound already, else fetched now and created.
        NotFound when the connection is unknown, reads no leads, or the CRM has no such lead."""
        found = self.bound(connection, crm_id)
        if found is not None:
            return found
        if connection not in self.runtime.settings.connections:
            raise NotFound(f"no CRM connection named '{connection}'")
        with self._lock:
            engine = self._engines.get(connection)
            if engine is None:
                engine = self._engines[connection] = self.runtime.engine(connection)
            try:
                fetched = engine.fetch(MODULE, crm_id)
            except ValueError as exc:
                raise NotFound(f"connection '{connection}': {exc}") from None
        if fetched is None:
            raise NotFound(f"the CRM of '{connection}' has no lead {crm_id}")
        return fetched

    def close(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.adapter.close()
            self._engines.clear()
