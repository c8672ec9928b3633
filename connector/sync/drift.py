"""Drift detection (as Heroku Connect's): compare what UPM holds with what the CRM holds for one
connection, through the mapping, without writing anything but the result.

Per mapped object: every CRM record is read (pages, as a full resync reads them) and mapped to UPM
values; a CRM record with no binding (or bound to an archived record) is missing in UPM; a bound
record whose mapped values differ from the UPM record's is a field difference (the fields named);
a binding whose CRM id the read did not return is missing in the CRM. Only the CRM ids are kept in
memory, and at most `SAMPLE` examples of each finding; the counts are complete.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, func, select, true

from connector.mapping.mapper import MappingError
from connector.store.bindings import Binding
from connector.store.drift import DriftResult
from connector.sync.binder import Binder
from connector.sync.engine import SyncEngine
from connector.sync.merge import same
from connector.sync.pull import Puller

SAMPLE = 50


@dataclass
class ObjectDrift:
    """The findings for one mapped object."""

    module: str
    crm_object: str
    crm_records: int = 0
    upm_records: int = 0
    bound: int = 0
    missing_in_upm: int = 0
    missing_in_crm: int = 0
    differing: int = 0
    unmappable: int = 0
    missing_in_upm_ids: list[str] = field(default_factory=list)
    missing_in_crm_ids: list[dict[str, Any]] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not (self.missing_in_upm or self.missing_in_crm or self.differing or self.unmappable)


def _sample(items: list[Any], item: Any) -> None:
    if len(items) < SAMPLE:
        items.append(item)


def object_drift(engine: SyncEngine, puller: Puller) -> ObjectDrift:
    obj, mapper, model = puller.obj, puller.mapper, puller.model
    found = ObjectDrift(obj.module, obj.crm_object)
    seen: set[str] = set()
    for page in engine.adapter.read_changes(obj.crm_object, None, mapper.crm_read_fields):
        page = [r for r in page if puller.owns(r.fields.get(obj.key.crm))]
        with engine.db.session() as session:
            binder = Binder(session, engine.connection)
            page = puller.with_links(binder, page)
            binder.load_crm_ids(obj.module, [r.id for r in page])
            for field_map in mapper.inbound:
                if field_map.relation and field_map.crm:
                    binder.load_crm_ids(field_map.relation, [str(v) for r in page if (v := r.fields.get(field_map.crm))])
            bound = {b.record_id: b for r in page if (b := binder.by_crm(obj.module, r.id))}
            records = {r.id: r for r in session.scalars(select(model).where(model.id.in_(list(bound))))} if bound else {}
            for crm in page:
                seen.add(crm.id)
                found.crm_records += 1
                binding = binder.by_crm(obj.module, crm.id)
                record = records.get(binding.record_id) if binding else None
                if record is None or getattr(record, "archived_at", None) is not None:
                    found.missing_in_upm += 1
                    _sample(found.missing_in_upm_ids, crm.id)
                    continue
                try:
                    values = mapper.to_upm(crm.fields, partial(puller.record_for, binder))
                except MappingError as exc:
                    found.unmappable += 1
                    _sample(found.differences, {"crm_id": crm.id, "record_id": record.id, "error": str(exc)})
                    continue
                fields = {name: {"upm": getattr(record, name), "crm": value} for name, value in values.items()
                          if not same(getattr(record, name), value)}
                if fields:
                    found.differing += 1
                    _sample(found.differences, {"crm_id": crm.id, "record_id": record.id,
                                                "fields": {k: {s: _plain(v) for s, v in d.items()}
                                                           for k, d in sorted(fields.items())}})
    live: ColumnElement[bool] = model.archived_at.is_(None) if hasattr(model, "archived_at") else true()
    with engine.db.session() as session:
        found.upm_records = session.scalar(select(func.count()).select_from(model).where(live)) or 0
        bindings = session.execute(
            select(Binding.crm_id, Binding.record_id).join(model, model.id == Binding.record_id)
            .where(Binding.connection == engine.connection, Binding.module == obj.module,
                   Binding.crm_object == obj.crm_object, live))
        for crm_id, record_id in bindings:
            found.bound += 1
            if crm_id not in seen:
                found.missing_in_crm += 1
                _sample(found.missing_in_crm_ids, {"crm_id": crm_id, "record_id": record_id})
    return found


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return value.isoformat() if isinstance(value, datetime) else str(value)


def drift_report(engine: SyncEngine, only: str | None = None) -> dict[str, Any]:
    """Compare every mapped object (or `only`) of the engine's connection; nothing is written."""
    lane = engine._lane(True, lambda: False)
    objects = [object_drift(engine, Puller(lane, obj)) for obj in lane.objects(only) if obj.direction != "to_crm"]
    return {"connection": engine.connection, "in_sync": all(o.in_sync for o in objects),
            "objects": [{**asdict(o), "in_sync": o.in_sync} for o in objects]}


def save_result(engine: SyncEngine, report: dict[str, Any], started: datetime, finished: datetime) -> None:
    """Keep the report as the connection's latest drift result (what `status` shows)."""
    with engine.db.session() as session:
        session.add(DriftResult(connection=engine.connection, started_at=started, finished_at=finished,
                                in_sync=bool(report["in_sync"]), report=report))

