"""REST resources on single objects and records: limits, query/queryAll (+ next pages), describe, sObject
CRUD, upsert by external id, getUpdated and getDeleted."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import soql
from .errors import ApiError, RecordError
from .ids import normalize_id
from .restapi import RestRequest, RestResponse, sobject_url
from .schema import ObjectDef
from .timefmt import floor_minute, format_datetime, parse_datetime

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

DEFAULT_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200
MAX_REPLICATION_IDS = 600_000
MIN_REPLICATION_WINDOW = timedelta(minutes=1)
UPDATED_WINDOW = timedelta(days=30)
_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_LOCATOR = re.compile(r"(01g[0-9A-Za-z]{12,15})-(\d+)")


def object_def(emu: SalesforceEmulator, name: str) -> ObjectDef:
    """The sObject type in the URL; 404 NOT_FOUND when unknown."""
    definition = emu.schema.get(name)
    if definition is None:
        raise ApiError.not_found()
    return definition


def record_json(
    definition: ObjectDef,
    record: dict[str, Any],
    field_names: list[str],
    version: str,
    parents: Sequence[tuple[soql.ParentField, dict[str, Any] | None]] = (),
) -> dict[str, Any]:
    """A record as the API writes it: `attributes` first, then the fields asked for, then each parent's
    fields nested under its relationship name (`"Account": {"attributes": ..., "Name": ...}`; null when
    the lookup is empty). `parents` pairs each selected parent field with the parent record."""
    document: dict[str, Any] = {
        "attributes": {"type": definition.name, "url": sobject_url(version, definition.name, record["Id"])}
    }
    for name in field_names:
        document[name] = record.get(name)
    for selected, parent in parents:
        if parent is None:
            document[selected.relationship] = None
            continue
        nested = document.get(selected.relationship) or {
            "attributes": {"type": selected.parent.name, "url": sobject_url(version, selected.parent.name, parent["Id"])}
        }
        nested[selected.field.name] = parent.get(selected.field.name)
        document[selected.relationship] = nested
    return document


def parent_records(
    emu: SalesforceEmulator, selected: Sequence[soql.ParentField], record: dict[str, Any]
) -> list[tuple[soql.ParentField, dict[str, Any] | None]]:
    """Each selected parent field with the live parent record its lookup on `record` points to (or None)."""
    return [(parent_field, parent_field.parent_of(record, emu.store.get)) for parent_field in selected]


def record_error_response(error: RecordError) -> ApiError:
    """A single-record write that failed: 404 for a deleted record, 400 otherwise."""
    return ApiError(404 if error.status_code == "ENTITY_IS_DELETED" else 400, error.body())


# ---- limits, describe ----------------------------------------------------------------------------------------


def limits(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET limits: the org limits, DailyApiRequests from the real count."""
    return RestResponse(body=emu.usage.limits_document())


def describe_global(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET sobjects: the global describe."""
    sobjects = [definition.summary(req.version) for definition in emu.schema.objects.values()]
    return RestResponse(body={"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})


def sobject_basic_info(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET sobjects/X: basic information about an object."""
    definition = object_def(emu, m["object"])
    return RestResponse(body={"objectDescribe": definition.summary(req.version), "recentItems": []})


def describe_sobject(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET sobjects/X/describe."""
    return RestResponse(body=object_def(emu, m["object"]).describe(req.version))


# ---- query ---------------------------------------------------------------------------------------------------


def _batch_size(req: RestRequest, default: int = DEFAULT_BATCH_SIZE) -> int:
    match = _BATCH_SIZE.search(req.headers.get("sforce-query-options", ""))
    if not match:
        return default
    return max(MIN_BATCH_SIZE, min(DEFAULT_BATCH_SIZE, int(match.group(1))))


def query(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET query?q= / queryAll?q=: the first page; later pages through a cursor."""
    text = req.params.get("q", "")
    if not text.strip():
        raise ApiError.bad_request("MALFORMED_QUERY", "A query string has to be specified")
    try:
        parsed = soql.parse(text, emu.schema)
    except soql.SoqlError as exc:
        raise exc.api_error() from None
    include_deleted = m["resource"] == "queryAll"
    definition = parsed.object
    rows = parsed.run(emu.store.all(definition.name, include_deleted, parsed.modified_since))
    if parsed.count is not None:
        return RestResponse(body=_count_result(parsed.count, rows))
    batch = _batch_size(req)
    field_names = [field.name for field in parsed.fields]
    body: dict[str, Any] = {"totalSize": len(rows), "done": len(rows) <= batch}
    if len(rows) > batch:
        cursor = emu.cursors.open(
            definition.name, field_names, [r["Id"] for r in rows], batch, include_deleted, parsed.parents
        )
        body["nextRecordsUrl"] = cursor.next_records_url(req.version, batch)
    body["records"] = [
        record_json(definition, record, field_names, req.version, parent_records(emu, parsed.parents, record))
        for record in rows[:batch]
    ]
    return RestResponse(body=body)


def _count_result(count: soql.CountSpec, rows: list[dict[str, Any]]) -> dict[str, Any]:
    if count.field is None:
        return {"totalSize": len(rows), "done": True, "records": []}
    name = count.field.name
    value = sum(1 for record in rows if record.get(name) is not None)
    return {"totalSize": 1, "done": True, "records": [{"attributes": {"type": "AggregateResult"}, count.alias: value}]}


def query_more(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET query/01g...-N: the page of an open cursor starting at N."""
    match = _LOCATOR.fullmatch(m["locator"])
    cursor = emu.cursors.get(match.group(1)) if match else None
    if match is None or cursor is None:
        raise ApiError.bad_request("INVALID_QUERY_LOCATOR", "invalid query locator")
    offset = int(match.group(2))
    batch = _batch_size(req, cursor.batch_size)
    definition = emu.schema.objects[cursor.object_name]
    page = [emu.store.get(definition.name, record_id) for record_id in cursor.ids[offset : offset + batch]]
    done = offset + batch >= len(cursor.ids)
    body: dict[str, Any] = {"totalSize": len(cursor.ids), "done": done}
    if not done:
        body["nextRecordsUrl"] = cursor.next_records_url(req.version, offset + batch)
    body["records"] = [
        record_json(definition, record, cursor.field_names, req.version, parent_records(emu, cursor.parents, record))
        for record in page
        if record is not None
    ]
    return RestResponse(body=body)


# ---- sObject rows --------------------------------------------------------------------------------------------


def create_record(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """POST sobjects/X: 201 {id, success, errors}."""
    definition = object_def(emu, m["object"])
    values = req.json()
    if not isinstance(values, dict):
        raise ApiError.bad_request("JSON_PARSER_ERROR", "The request body must be a JSON object")
    try:
        record_id = emu.api_create(definition.name, values, req.user_id)
    except RecordError as exc:
        raise record_error_response(exc) from None
    return RestResponse(
        201,
        {"id": record_id, "success": True, "errors": []},
        {"Location": sobject_url(req.version, definition.name, record_id)},
    )


def _existing_id(emu: SalesforceEmulator, definition: ObjectDef, raw: str) -> str:
    """The live record `raw` names; 404 NOT_FOUND / ENTITY_IS_DELETED otherwise."""
    record_id = normalize_id(raw)
    if record_id is None:
        raise ApiError.not_found(f"Provided external ID field does not exist or is not accessible: {raw}")
    record = emu.store.get(definition.name, record_id)
    if record is None:
        raise ApiError.not_found()
    if record["IsDeleted"]:
        raise ApiError(404, RecordError("ENTITY_IS_DELETED", "entity is deleted").body())
    return record_id


def _chosen_fields(definition: ObjectDef, req: RestRequest) -> list[str]:
    names = [name.strip() for name in req.params.get("fields", "").split(",") if name.strip()]
    if not names:
        return list(definition.fields)
    chosen = []
    for name in names:
        field = definition.field(name)
        if field is None:
            raise ApiError.bad_request("INVALID_FIELD", f"No such column '{name}' on entity '{definition.name}'.")
        chosen.append(field.name)
    return chosen


def get_record(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET sobjects/X/Id[?fields=...]."""
    definition = object_def(emu, m["object"])
    record_id = _existing_id(emu, definition, m["id"])
    record = emu.store.get(definition.name, record_id)
    assert record is not None
    return RestResponse(body=record_json(definition, record, _chosen_fields(definition, req), req.version))


def update_record(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """PATCH sobjects/X/Id: 204."""
    definition = object_def(emu, m["object"])
    record_id = _existing_id(emu, definition, m["id"])
    values = req.json()
    if not isinstance(values, dict):
        raise ApiError.bad_request("JSON_PARSER_ERROR", "The request body must be a JSON object")
    try:
        emu.api_update(definition.name, record_id, values, req.user_id)
    except RecordError as exc:
        raise record_error_response(exc) from None
    return RestResponse(204)


def delete_record(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """DELETE sobjects/X/Id: 204 (to the recycle bin)."""
    definition = object_def(emu, m["object"])
    record_id = _existing_id(emu, definition, m["id"])
    try:
        emu.api_delete(definition.name, record_id, req.user_id)
    except RecordError as exc:
        raise record_error_response(exc) from None
    return RestResponse(204)


# ---- by external id ------------------------------------------------------------------------------------------


def _external_matches(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> tuple[ObjectDef, str, list[str]]:
    definition = object_def(emu, m["object"])
    field = definition.field(m["field"])
    if field is None or not (field.external_id or field.type == "id"):
        raise ApiError.not_found(f"Provided external ID field does not exist or is not accessible: {m['field']}")
    value = m["value"]
    if field.type == "id":
        record_id = normalize_id(value)
        record = emu.store.get(definition.name, record_id) if record_id else None
        matches = [record_id] if record_id and record is not None and not record["IsDeleted"] else []
    else:
        matches = emu.store.match_external(definition.name, field.name, value)
    if len(matches) > 1:
        raise ApiError(300, [sobject_url(req.version, definition.name, record_id) for record_id in matches])
    return definition, field.name, matches


def get_by_external_id(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET sobjects/X/Field/value."""
    definition, _, matches = _external_matches(emu, req, m)
    if not matches:
        raise ApiError.not_found()
    record = emu.store.get(definition.name, matches[0])
    assert record is not None
    return RestResponse(body=record_json(definition, record, _chosen_fields(definition, req), req.version))


def upsert_by_external_id(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """PATCH sobjects/X/Field/value: 201 created; 200 (v46.0+) or 204 updated; 300 ambiguous."""
    definition, field_name, _ = _external_matches(emu, req, m)
    values = req.json()
    if not isinstance(values, dict):
        raise ApiError.bad_request("JSON_PARSER_ERROR", "The request body must be a JSON object")
    try:
        record_id, created = emu.api_upsert(definition.name, field_name, m["value"], values, req.user_id)
    except RecordError as exc:
        raise record_error_response(exc) from None
    body = {"id": record_id, "success": True, "errors": [], "created": created}
    location = {"Location": sobject_url(req.version, definition.name, record_id)}
    if created:
        return RestResponse(201, body, location)
    if req.version_number >= 46.0:
        return RestResponse(200, body, location)
    return RestResponse(204)


def delete_by_external_id(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """DELETE sobjects/X/Field/value."""
    definition, _, matches = _external_matches(emu, req, m)
    if not matches:
        raise ApiError.not_found()
    try:
        emu.api_delete(definition.name, matches[0], req.user_id)
    except RecordError as exc:
        raise record_error_response(exc) from None
    return RestResponse(204)


# ---- replication ---------------------------------------------------------------------------------------------


def _replication_window(emu: SalesforceEmulator, req: RestRequest) -> tuple[datetime, datetime]:
    """(start, latestDateCovered), both on whole minutes, the end capped at now. As the real API, the
    start must precede the end by more than one minute (INVALID_REPLICATION_DATE otherwise)."""
    moments = []
    for name in ("start", "end"):
        text = req.params.get(name)
        if not text:
            raise ApiError.bad_request("MISSING_ARGUMENT", f"Missing required parameter: {name}")
        try:
            moments.append(parse_datetime(text))
        except ValueError:
            raise ApiError.bad_request("INVALID_REPLICATION_DATE", f"Invalid date format: {text}") from None
    start, end = moments
    if end - start <= MIN_REPLICATION_WINDOW:
        raise ApiError.bad_request(
            "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate by more than one minute"
        )
    return floor_minute(start), min(floor_minute(end), floor_minute(emu.clock.now()))


def get_updated(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET sobjects/X/updated/?start=&end=: ids changed in the window (whole minutes)."""
    definition = object_def(emu, m["object"])
    start, latest = _replication_window(emu, req)
    if start < emu.clock.now() - UPDATED_WINDOW:
        raise ApiError.bad_request("INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
    ids = emu.store.updated_ids(definition.name, format_datetime(start), format_datetime(latest))
    if len(ids) > MAX_REPLICATION_IDS:
        raise ApiError.bad_request("EXCEEDED_ID_LIMIT", "Too many records to replicate; narrow the date range")
    return RestResponse(body={"ids": ids, "latestDateCovered": format_datetime(latest)})


def get_deleted(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET sobjects/X/deleted/?start=&end=: logged deletions and the log's coverage."""
    definition = object_def(emu, m["object"])
    start, latest = _replication_window(emu, req)
    earliest = emu.store.earliest_date_available(definition.name)
    if earliest > start:
        raise ApiError.bad_request(
            "INVALID_REPLICATION_DATE",
            f"startDate is before the earliest date available ({format_datetime(earliest)}): the delete log was purged",
        )
    entries = emu.store.deleted_entries(definition.name, format_datetime(start), format_datetime(latest))
    if len(entries) > MAX_REPLICATION_IDS:
        raise ApiError.bad_request("EXCEEDED_ID_LIMIT", "Too many records to replicate; narrow the date range")
    return RestResponse(
        body={
            "deletedRecords": [{"id": record_id, "deletedDate": stamp} for stamp, record_id in entries],
            "earliestDateAvailable": format_datetime(earliest),
            "latestDateCovered": format_datetime(latest),
        }
    )
