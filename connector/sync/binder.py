"""The Binder: which CRM record a UPM record is, over one connection (reads batched per page)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from connector.store.bindings import Binding


class Binder:
    """Bindings of one connection, looked up in batches and cached for the unit of work."""

    def __init__(self, session: Session, connection: str):
        self.session = session
        self.connection = connection
        self._by_crm: dict[tuple[str, str], Binding | None] = {}
        self._by_record: dict[tuple[str, int], Binding | None] = {}

    def _remember(self, binding: Binding) -> Binding:
        self._by_crm[(binding.module, binding.crm_id)] = binding
        self._by_record[(binding.module, binding.record_id)] = binding
        return binding

    def load_crm_ids(self, module: str, crm_ids: Iterable[str]) -> None:
        """Fetch the bindings of these CRM ids in a few queries; ids with none are remembered too."""
        wanted = [i for i in set(crm_ids) if (module, i) not in self._by_crm]
        for i in wanted:
            self._by_crm[(module, i)] = None
        for b in self._matching(module, Binding.crm_id, wanted):
            self._remember(b)

    def assume_unbound(self, module: str, crm_ids: Iterable[str]) -> None:
        """Remember these CRM ids as unbound without a query: the caller knows none is bound."""
        for i in crm_ids:
            self._by_crm.setdefault((module, i), None)

    def load_records(self, module: str, record_ids: Iterable[int]) -> None:
        """Fetch the bindings of these records in a few queries; records with none are remembered too."""
        wanted = [i for i in set(record_ids) if (module, i) not in self._by_record]
        for i in wanted:
            self._by_record[(module, i)] = None
        for b in self._matching(module, Binding.record_id, wanted):
            self._remember(b)

    def _matching(self, module: str, column: InstrumentedAttribute[Any], values: list[Any]) -> Iterator[Binding]:
        """This connection's bindings of `module` whose `column` is one of `values`, in one query
        with one parameter (see `_lookup`)."""
        if not values:
            return
        dialect = self.session.get_bind().dialect.name
        listed: Any = values if dialect == "postgresql" else json.dumps(values)
        yield from self.session.scalars(_lookup(column.key, dialect),
                                        {"connection": self.connection, "module": module, "values": listed})

    def by_crm(self, module: str, crm_id: str) -> Binding | None:
        if (module, crm_id) not in self._by_crm:
            self.load_crm_ids(module, [crm_id])
        return self._by_crm.get((module, crm_id))

    def by_record(self, module: str, record_id: int) -> Binding | None:
        if (module, record_id) not in self._by_record:
            self.load_records(module, [record_id])
        return self._by_record.get((module, record_id))

    def record_for(self, module: str, crm_id: str) -> int | None:
        binding = self.by_crm(module, crm_id)
        return None if binding is None else binding.record_id

    def crm_id_for(self, module: str, record_id: int) -> str | None:
        binding = self.by_record(module, record_id)
        return None if binding is None else binding.crm_id

    def bind(
        self, module: str, record_id: int, crm_object: str, crm_id: str, values: dict[str, Any],
        crm_modified_at: datetime | None, now: datetime,
    ) -> Binding:
        """Record that `record_id` is `crm_id` and that both sides now hold `values`."""
        binding = self.by_record(module, record_id) or self.by_crm(module, crm_id)
        if binding is None:
            binding = Binding(connection=self.connection, module=module, record_id=record_id,
                              crm_object=crm_object, crm_id=crm_id)
            self.session.add(binding)
        binding.crm_id, binding.record_id, binding.crm_object = crm_id, record_id, crm_object
        binding.synced_values = values
        binding.synced_at = now
        if crm_modified_at is not None:
            binding.crm_modified_at = crm_modified_at
        return self._remember(binding)


@functools.cache
def _lookup(column: str, dialect: str) -> Select[tuple[Binding]]:
    """The bindings of a connection's module whose `column` is one of a list, built once (so its
    cache key is too): PostgreSQL `= ANY(array)`, SQLite `IN (SELECT value FROM json_each(?))`. A
    short statement the driver parses once and caches, where a 500-value IN list is re-parsed (and,
    through SQLAlchemy, re-rendered) on every page."""
    attribute = getattr(Binding, column)
    query = select(Binding).where(Binding.connection == bindparam("connection"), Binding.module == bindparam("module"))
    if dialect == "postgresql":
        return query.where(attribute == any_(bindparam("values", type_=ARRAY(attribute.type))))
    listed = func.json_each(bindparam("values", type_=String)).table_valued("value")
    return query.where(attribute.in_(select(listed.c.value)))
