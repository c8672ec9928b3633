"""sObject Collections (`/composite/sobjects`): create, update, upsert, delete and retrieve up to 200 records a
call, HTTP 200 with one result per record, and allOrNone rolling the whole call back."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ROLLED_BACK, ApiError, RecordError
from .ids import normalize_id
from .restapi import RestRequest, RestResponse
from .resources import object_def, record_json
from .state import record_id_of

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

MAX_RECORDS = 200


@dataclass
class _Outcome:
    """What happened to one record: `existing` ids survive a rollback in the result."""

    id: str | None
    error: RecordError | None = None
    created: bool = False
    existing: bool = False


def _too_many() -> ApiError:
    return ApiError.bad_request(
        "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call"
    )


def _records_payload(req: RestRequest) -> tuple[list[Any], bool]:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError.bad_request("JSON_PARSER_ERROR", "The request body must be an object with a records array")
    if len(body["records"]) > MAX_RECORDS:
        raise _too_many()
    return body["records"], body.get("allOrNone") is True


def _run(
    emu: SalesforceEmulator, items: list[Any], all_or_none: bool, operation: Callable[[Any], _Outcome], upsert: bool
) -> RestResponse:
    atomic = emu.store.atomic() if all_or_none else nullcontext()
    with atomic as savepoint:
        outcomes = [operation(item) for item in items]
        if savepoint is not None and any(outcome.error for outcome in outcomes):
            savepoint.rollback()
            outcomes = [
                outcome if outcome.error else _Outcome(outcome.id if outcome.existing else None, ROLLED_BACK)
                for outcome in outcomes
            ]
    return RestResponse(body=[_result(outcome, upsert) for outcome in outcomes])


def _result(outcome: _Outcome, upsert: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if outcome.id:
        result["id"] = outcome.id
    result["success"] = outcome.error is None
    result["errors"] = [outcome.error.item()] if outcome.error else []
    if upsert:
        result["created"] = outcome.created and outcome.error is None
    return result


def _type_of(emu: SalesforceEmulator, item: Any) -> str:
    if not isinstance(item, dict):
        raise RecordError("JSON_PARSER_ERROR", "Each record must be a JSON object")
    attributes = item.get("attributes")
    type_name = attributes.get("type") if isinstance(attributes, dict) else None
    definition = emu.schema.get(type_name) if isinstance(type_name, str) else None
    if definition is None:
        raise RecordError("INVALID_TYPE", "sObject type must be given in attributes.type and must exist")
    return definition.name


def create(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """POST composite/sobjects: create records of any types."""
    items, all_or_none = _records_payload(req)

    def create_one(item: Any) -> _Outcome:
        try:
            return _Outcome(emu.api_create(_type_of(emu, item), item, req.user_id), created=True)
        except RecordError as exc:
            return _Outcome(None, exc)

    return _run(emu, items, all_or_none, create_one, upsert=False)


def update(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """PATCH composite/sobjects: update records by Id."""
    items, all_or_none = _records_payload(req)

    def update_one(item: Any) -> _Outcome:
        record_id = None
        try:
            type_name = _type_of(emu, item)
            record_id, raw_id = record_id_of(item)
            if raw_id is None:
                raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call")
            if record_id is None or emu.schema.for_id(record_id) is not emu.schema.objects[type_name]:
                record_id = None
                raise RecordError("MALFORMED_ID", f"{type_name} ID: id value of incorrect type: {raw_id}", ["Id"])
            body = {name: value for name, value in item.items() if name.lower() != "id"}
            emu.api_update(type_name, record_id, body, req.user_id)
            return _Outcome(record_id, existing=True)
        except RecordError as exc:
            return _Outcome(record_id, exc, existing=record_id is not None)

    return _run(emu, items, all_or_none, update_one, upsert=False)


def upsert(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """PATCH composite/sobjects/X/Field: upsert records of one type by an external id (or Id)."""
    definition = object_def(emu, m["object"])
    field = definition.field(m["field"])
    if field is None or not (field.external_id or field.type == "id"):
        raise ApiError.bad_request(
            "INVALID_FIELD",
            f"Field name provided, {m['field']} does not match an External ID, Salesforce Id, or indexed field for "
            f"{definition.name}",
        )
    items, all_or_none = _records_payload(req)

    def upsert_one(item: Any) -> _Outcome:
        try:
            if not isinstance(item, dict):
                raise RecordError("JSON_PARSER_ERROR", "Each record must be a JSON object")
            if "attributes" in item and _type_of(emu, item) != definition.name:
                raise RecordError("INVALID_TYPE", f"All records must be of type {definition.name}")
            value = next((v for name, v in item.items() if name.lower() == field.name.lower()), None)
            if value in (None, "") and field.type != "id":
                raise RecordError("MISSING_ARGUMENT", f"{field.name} not specified")
            record_id, created = emu.api_upsert(definition.name, field.name, value, item, req.user_id)
            return _Outcome(record_id, created=created, existing=not created)
        except RecordError as exc:
            return _Outcome(None, exc)

    return _run(emu, items, all_or_none, upsert_one, upsert=True)


def delete(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """DELETE composite/sobjects?ids=&allOrNone=."""
    raw_ids = [raw for raw in req.params.get("ids", "").split(",") if raw]
    if len(raw_ids) > MAX_RECORDS:
        raise _too_many()
    all_or_none = req.params.get("allOrNone", "false").lower() == "true"

    def delete_one(raw_id: str) -> _Outcome:
        record_id = normalize_id(raw_id)
        definition = emu.schema.for_id(record_id) if record_id else None
        if record_id is None or definition is None:
            return _Outcome(None, RecordError("MALFORMED_ID", f"malformed id {raw_id}"))
        try:
            emu.api_delete(definition.name, record_id, req.user_id)
            return _Outcome(record_id, existing=True)
        except RecordError as exc:
            return _Outcome(record_id, exc, existing=True)

    return _run(emu, raw_ids, all_or_none, delete_one, upsert=False)


def retrieve(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET composite/sobjects/X?ids=&fields=: the records, null for missing ones."""
    definition = object_def(emu, m["object"])
    raw_ids = [raw for raw in req.params.get("ids", "").split(",") if raw]
    names = [name.strip() for name in req.params.get("fields", "").split(",") if name.strip()]
    if not raw_ids or not names:
        raise ApiError.bad_request("MISSING_ARGUMENT", "ids and fields are required")
    fields = []
    for name in names:
        field = definition.field(name)
        if field is None:
            raise ApiError.bad_request("INVALID_FIELD", f"No such column '{name}' on entity '{definition.name}'.")
        fields.append(field.name)
    results: list[Any] = []
    for raw_id in raw_ids:
        record_id = normalize_id(raw_id)
        record = emu.store.get(definition.name, record_id) if record_id else None
        live = record is not None and not record["IsDeleted"]
        results.append(record_json(definition, record, fields, req.version) if live and record else None)
    return RestResponse(body=results)
