"""The org's records: storage, field checks on save, external-id indexes, the recycle bin and delete log.

Records are dicts keyed by canonical field names; datetimes are stored as Salesforce writes them
(`2011-07-07T00:37:00.000+0000`). A soft-deleted record stays (IsDeleted = true) until the delete log is
purged. Savepoints record undo steps so that allOrNone requests can roll back.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from .errors import RecordError
from .ids import IdFactory, normalize_id
from .schema import ANY_OBJECT, ObjectDef, Schema
from .timefmt import format_datetime

SaveCheck = Callable[[ObjectDef, "str | None", Mapping[str, Any]], None]
"""Called with (object, existing id or None, record as it would be saved) before a save; raises RecordError."""


def external_key(value: Any) -> str:
    """How an external id value is matched: text without regard to letter case (Salesforce's default)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).lower()


class Savepoint:
    """A point to roll the store back to (see RecordStore.atomic)."""

    def __init__(self, store: RecordStore, mark: int) -> None:
        self._store = store
        self._mark = mark

    def rollback(self) -> None:
        """Undo every change made since this savepoint."""
        self._store._undo_to(self._mark)


class RecordStore:
    """All records of all objects, in creation order."""

    def __init__(self, schema: Schema, ids: IdFactory, now: Callable[[], datetime], delete_log_days: int = 15) -> None:
        self.schema = schema
        self._ids = ids
        self._now = now
        self._retention = timedelta(days=delete_log_days)
        self._records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in schema.objects}
        self._index: dict[str, dict[str, dict[str, set[str]]]] = {
            name: {f.name: {} for f in definition.external_id_fields} for name, definition in schema.objects.items()
        }
        self._delete_log: dict[str, list[tuple[str, str]]] = {name: [] for name in schema.objects}
        self._modified: dict[str, dict[str, None]] = {name: {} for name in schema.objects}
        """The index on SystemModstamp: ids in the order of their last save, which is stamp order while
        saves come in clock order; an object leaves `_ordered` when a rollback breaks that."""
        self._ordered = set(schema.objects)
        self._purged_through: dict[str, datetime] = {}
        self._undo: list[Callable[[], None]] = []
        self._depth = 0

    # ---- reading ----------------------------------------------------------------------------------------------

    def get(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        """The stored record (deleted ones included), not a copy: callers must not change it."""
        return self._records[object_name].get(record_id)

    def all(
        self, object_name: str, include_deleted: bool = False, modified_since: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Records in creation order (live only unless `include_deleted`); with `modified_since` (a stored
        datetime), at least those with SystemModstamp >= it, in no particular order, read from the index."""
        records: Any = self._records[object_name].values()
        if modified_since is not None and object_name in self._ordered:
            records = self._since(object_name, modified_since)
        if include_deleted:
            self._expire_delete_log(object_name)
            return iter(records)
        return (record for record in records if not record["IsDeleted"])

    def _since(self, object_name: str, stamp: str) -> list[dict[str, Any]]:
        records, found = self._records[object_name], []
        for record_id in reversed(self._modified[object_name]):
            record = records[record_id]
            if record["SystemModstamp"] < stamp:
                break
            found.append(record)
        return found

    def counts(self) -> dict[str, dict[str, int]]:
        """`{object: {"live": n, "deleted": n}}`."""
        result = {}
        for name, records in self._records.items():
            self._expire_delete_log(name)
            deleted = sum(1 for record in records.values() if record["IsDeleted"])
            result[name] = {"live": len(records) - deleted, "deleted": deleted}
        return result

    def match_external(self, object_name: str, field_name: str, value: Any) -> list[str]:
        """Ids of live records whose external id field `field_name` equals `value`."""
        return sorted(self._index[object_name][field_name].get(external_key(value), ()))

    # ---- saving -----------------------------------------------------------------------------------------------

    def create(
        self,
        object_name: str,
        values: Mapping[str, Any],
        user_id: str,
        check: SaveCheck | None = None,
        record_id: str | None = None,
    ) -> str:
        """Insert a record (with a fresh id unless `record_id` is given); returns its id.

        Raises RecordError when a value does not fit.
        """
        definition = self.schema.objects[object_name]
        changes = self.validate(definition, values, creating=True)
        record = dict(definition.new_record)
        if "OwnerId" in definition.fields:
            record["OwnerId"] = user_id
        record.update(changes)
        self._check_required(definition, record)
        self._compound_name(definition, record)
        self._check_references(definition, changes)
        if check:
            check(definition, None, record)
        self._check_unique(definition, None, record)
        stamp = format_datetime(self._now())
        record_id = record_id or self._ids.new(definition.key_prefix)
        record.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=stamp,
            CreatedById=user_id,
            LastModifiedDate=stamp,
            LastModifiedById=user_id,
            SystemModstamp=stamp,
        )
        self._put(object_name, record_id, record)
        return record_id

    def update(
        self, object_name: str, record_id: str, values: Mapping[str, Any], user_id: str, check: SaveCheck | None = None
    ) -> None:
        """Change a live record. Raises RecordError (ENTITY_IS_DELETED, field problems...)."""
        definition = self.schema.objects[object_name]
        current = self._live(object_name, record_id)
        changes = self.validate(definition, values, creating=False)
        record = {**current, **changes}
        self._check_required(definition, record)
        self._compound_name(definition, record)
        self._check_references(definition, changes)
        if check:
            check(definition, record_id, record)
        self._check_unique(definition, record_id, record)
        stamp = format_datetime(self._now())
        record.update(LastModifiedDate=stamp, LastModifiedById=user_id, SystemModstamp=stamp)
        self._put(object_name, record_id, record)

    def delete(self, object_name: str, record_id: str, user_id: str, check: SaveCheck | None = None) -> None:
        """Move a live record to the recycle bin and log its deletion."""
        definition = self.schema.objects[object_name]
        current = self._live(object_name, record_id)
        if not definition.deletable:
            raise RecordError("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
        if check:
            check(definition, record_id, current)
        stamp = format_datetime(self._now())
        stamps = {"LastModifiedDate": stamp, "LastModifiedById": user_id, "SystemModstamp": stamp}
        self._put(object_name, record_id, {**current, "IsDeleted": True, **stamps})
        log = self._delete_log[object_name]
        log.append((stamp, record_id))
        self._journal(log.pop)

    def validate(self, definition: ObjectDef, values: Mapping[str, Any], creating: bool) -> dict[str, Any]:
        """Canonical field names and stored values for a write; raises RecordError for the first problem."""
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if name == "attributes":
                continue
            field = definition.field(name)
            if field is None:
                raise RecordError(
                    "INVALID_FIELD", f"No such column '{name}' on sobject of type {definition.name}", show_fields=False
                )
            if creating and field.name == "Id":
                raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            if not (field.createable if creating else field.updateable):
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {field.name}. Please check the security settings of this "
                    "field and verify that it is read/write for your profile or permission set.",
                    [field.name],
                )
            changes[field.name] = field.coerce(value)
        return changes

    def _live(self, object_name: str, record_id: str) -> dict[str, Any]:
        current = self._records[object_name].get(record_id)
        if current is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if current["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
        return current

    @staticmethod
    def _check_required(definition: ObjectDef, record: Mapping[str, Any]) -> None:
        missing = [f.name for f in definition.required_fields if record.get(f.name) is None]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)

    @staticmethod
    def _compound_name(definition: ObjectDef, record: dict[str, Any]) -> None:
        if definition.compound_name:
            record["Name"] = " ".join(str(record[part]) for part in definition.compound_name if record.get(part))

    def _check_references(self, definition: ObjectDef, changes: Mapping[str, Any]) -> None:
        for name, value in changes.items():
            field = definition.fields[name]
            if field.type != "reference" or value is None:
                continue
            target = self.schema.for_id(value)
            if field.reference_to != (ANY_OBJECT,) and (target is None or target.name not in field.reference_to):
                raise RecordError(
                    "FIELD_INTEGRITY_EXCEPTION", f"{field.label}: id value of incorrect type: {value}", [name]
                )
            referenced = self._records[target.name].get(value) if target else None
            if referenced is None:
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])
            if referenced["IsDeleted"]:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [name])

    def _check_unique(self, definition: ObjectDef, record_id: str | None, record: Mapping[str, Any]) -> None:
        for field in definition.external_id_fields:
            value = record.get(field.name)
            if not field.unique or value is None:
                continue
            others = [other for other in self.match_external(definition.name, field.name, value) if other != record_id]
            if others:
                raise RecordError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {field.name} duplicates value on record with id: {others[0]}",
                )

    # ---- storage, indexes, undo -------------------------------------------------------------------------------

    def _put(self, object_name: str, record_id: str, record: dict[str, Any]) -> None:
        records = self._records[object_name]
        previous = records.get(record_id)
        self._replace(object_name, record_id, previous, record)
        self._journal(lambda: self._replace(object_name, record_id, record, previous))

    def _replace(
        self, object_name: str, record_id: str, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> None:
        index = self._index[object_name]
        if old is not None and not old["IsDeleted"]:
            for field_name, keys in index.items():
                if old.get(field_name) is not None:
                    holders = keys[external_key(old[field_name])]
                    holders.discard(record_id)
                    if not holders:
                        del keys[external_key(old[field_name])]
        modified = self._modified[object_name]
        if new is None:
            del self._records[object_name][record_id]
            del modified[record_id]
            return
        self._records[object_name][record_id] = new
        if old is None or old["SystemModstamp"] != new["SystemModstamp"]:
            modified.pop(record_id, None)
            last = next(reversed(modified), None)
            if last is not None and self._records[object_name][last]["SystemModstamp"] > new["SystemModstamp"]:
                self._ordered.discard(object_name)  # a rollback put an older save back: scan instead
            modified[record_id] = None
        if not new["IsDeleted"]:
            for field_name, keys in index.items():
                if new.get(field_name) is not None:
                    keys.setdefault(external_key(new[field_name]), set()).add(record_id)

    def _journal(self, undo: Callable[[], Any]) -> None:
        if self._depth:
            self._undo.append(undo)

    def _undo_to(self, mark: int) -> None:
        while len(self._undo) > mark:
            self._undo.pop()()

    @contextmanager
    def atomic(self) -> Iterator[Savepoint]:
        """Journal changes from here on; `savepoint.rollback()` undoes them (nesting allowed)."""
        self._depth += 1
        try:
            yield Savepoint(self, len(self._undo))
        finally:
            self._depth -= 1
            if not self._depth:
                self._undo.clear()

    # ---- replication: getUpdated / getDeleted -----------------------------------------------------------------

    def updated_ids(self, object_name: str, start: str, end: str) -> list[str]:
        """Ids of live records with start <= SystemModstamp < end (stored datetime strings)."""
        return [r["Id"] for r in self.all(object_name) if start <= r["SystemModstamp"] < end]

    def deleted_entries(self, object_name: str, start: str, end: str) -> list[tuple[str, str]]:
        """(deletedDate, id) of logged deletions with start <= deletedDate < end."""
        self._expire_delete_log(object_name)
        return [(stamp, record_id) for stamp, record_id in self._delete_log[object_name] if start <= stamp < end]

    def earliest_date_available(self, object_name: str) -> datetime:
        """Deletions before this moment are no longer in the log (retention or an explicit purge)."""
        self._expire_delete_log(object_name)
        return self._purged_through[object_name]

    def purge_delete_log(self, object_name: str, through: datetime) -> None:
        """Empty the recycle bin and delete log of `object_name` up to and including `through` (like an admin
        or the 15-day job); getDeleted then reports `through` as earliestDateAvailable."""
        through = through.replace(microsecond=0)
        if through <= self._purged_through.get(object_name, datetime.min.replace(tzinfo=through.tzinfo)):
            return
        self._purged_through[object_name] = through
        log = self._delete_log[object_name]
        gone = bisect_right(log, (format_datetime(through), "~"))  # the log is in deletion order
        records = self._records[object_name]
        for _, record_id in log[:gone]:
            record = records.get(record_id)
            if record is not None and record["IsDeleted"]:
                del records[record_id]
                del self._modified[object_name][record_id]
        del log[:gone]

    def _expire_delete_log(self, object_name: str) -> None:
        self.purge_delete_log(object_name, self._now() - self._retention)


def record_id_of(values: Mapping[str, Any]) -> tuple[str | None, Any]:
    """(normalized Id or None, raw Id value) from a write payload, whatever the key's letter case."""
    for key, value in values.items():
        if key.lower() == "id":
            return normalize_id(value), value
    return None, None
