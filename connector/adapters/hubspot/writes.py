"""Batch writes: upsert by a unique `idProperty`, update by record id, and archive, one WriteResult
per input in input order.

Upsert details:
- Inputs naming the same external id are merged into one (later values win): HubSpot refuses a batch
  with duplicate ids as a whole, and writing them one after the other would end the same way.
- A 207 carries per-record outcomes: each error maps back to its input by `objectWriteTraceId` (we
  send the external id as trace id) or `ids`; results map back by their idProperty value.
- A 400 for invalid property values refuses the whole batch without saying which input was wrong:
  the batch is split in halves until the bad records stand alone, so the rest is written.
- Records that failed transiently (error categories in TRANSIENT_CATEGORIES, or no outcome at all)
  are sent again under the client's backoff policy; what still fails is reported `retriable`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)
from tenacity import retry_if_result

from connector.adapters.base import WriteResult

from .client import HubSpotClient
from .errors import InvalidValues
from .records import property_value
from .settings import BATCH_LIMIT, RECORD_ID, TRANSIENT_CATEGORIES

Pending = dict[str, dict[str, str]]
"""External id -> the properties to write for it."""


class BatchWriter:
    """Upserts and archives records of any object type through the batch endpoints."""

    def __init__(self, client: HubSpotClient):
        self.client = client

    def upsert(self, obj: str, id_property: str, records: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        if len(records) > BATCH_LIMIT:
            raise ValueError(f"HubSpot upserts at most {BATCH_LIMIT} records a call, got {len(records)}")
        pending: Pending = {}
        for record in records:
            key = property_value(record.get(id_property))
            if key:
                pending.setdefault(key, {}).update({name: property_value(value) for name, value in record.items()})
        outcomes = self._write_until_settled(obj, id_property, pending)
        results: list[WriteResult] = []
        written: set[str] = set()
        for record in records:
            key = property_value(record.get(id_property))
            if not key:
                results.append(WriteResult(key="", outcome="failed", error_code="MISSING_EXTERNAL_ID",
                                           error_message=f"the record has no {id_property} value", error_fields=(id_property,)))
                continue
            outcome = outcomes[key]
            if key in written and outcome.ok:
                outcome = WriteResult(key=key, outcome="updated", crm_id=outcome.crm_id)
            written.add(key)
            results.append(outcome)
        return results

    def update(self, obj: str, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        """Batch update by record id (`hs_object_id`), one result per input in input order."""
        if len(records) > BATCH_LIMIT:
            raise ValueError(f"HubSpot updates at most {BATCH_LIMIT} records a call, got {len(records)}")
        pending: Pending = {}
        for crm_id, fields in records:
            pending.setdefault(str(crm_id), {}).update({name: property_value(value) for name, value in fields.items()})
        outcomes = self._write_until_settled(obj, RECORD_ID, pending)
        return [outcomes[str(crm_id)] for crm_id, _ in records]

    def archive(self, obj: str, ids: Sequence[str]) -> list[WriteResult]:
        api = self.client.api("crm.objects.batch_api")
        for start in range(0, len(ids), BATCH_LIMIT):
            chunk = list(dict.fromkeys(ids[start:start + BATCH_LIMIT]))
            body = BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=str(i)) for i in chunk])
            self.client.call(api.archive_with_http_info, obj, body)
        return [WriteResult(key=str(i), outcome="deleted", crm_id=str(i)) for i in ids]

    def _write_until_settled(self, obj: str, id_property: str, pending: Pending) -> dict[str, WriteResult]:
        outcomes: dict[str, WriteResult] = {}

        def send_unsettled() -> Pending:
            unsettled = {k: v for k, v in pending.items() if k not in outcomes or outcomes[k].retriable}
            outcomes.update(self._write(obj, id_property, unsettled))
            return {k: v for k, v in unsettled.items() if outcomes[k].retriable}

        if pending:
            self.client.retrying(retry_if_result(bool), retry_error_callback=lambda state: state.outcome.result())(send_unsettled)
        return outcomes

    def _write(self, obj: str, id_property: str, pending: Pending) -> dict[str, WriteResult]:
        """One batch upsert (or, keyed by record id, update); halves of it when HubSpot refuses the
        whole batch for invalid values."""
        api = self.client.api("crm.objects.batch_api")
        try:
            if id_property == RECORD_ID:
                update = BatchInputSimplePublicObjectBatchInput(inputs=[
                    SimplePublicObjectBatchInput(id=key, object_write_trace_id=key, properties=properties)
                    for key, properties in pending.items()
                ])
                data, _, _ = self.client.call(api.update_with_http_info, obj, update)
            else:
                upsert = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
                    SimplePublicObjectBatchInputUpsert(id_property=id_property, id=key, object_write_trace_id=key, properties=properties)
                    for key, properties in pending.items()
                ])
                data, _, _ = self.client.call(api.upsert_with_http_info, obj, upsert)
        except InvalidValues as invalid:
            if len(pending) == 1:
                key = next(iter(pending))
                return {key: WriteResult(key=key, outcome="failed", error_code=invalid.code, error_message=str(invalid),
                                         error_fields=invalid.fields)}
            keys = list(pending)
            half = len(keys) // 2
            first = self._write(obj, id_property, {k: pending[k] for k in keys[:half]})
            return {**first, **self._write(obj, id_property, {k: pending[k] for k in keys[half:]})}
        return _outcomes(pending, id_property, data)


def _outcomes(pending: Pending, id_property: str, data: Any) -> dict[str, WriteResult]:
    """Map a batch upsert answer (200 or 207) back to the inputs by external id."""
    by_folded = {key.casefold(): key for key in pending}
    outcomes: dict[str, WriteResult] = {}
    for result in data.results or []:
        value = str(result.id) if id_property == RECORD_ID else (result.properties or {}).get(id_property) or result.object_write_trace_id or ""
        key = value if value in pending else by_folded.get(value.casefold())
        if key is not None:
            created = bool(getattr(result, "new", False))
            outcomes[key] = WriteResult(key=key, outcome="created" if created else "updated", crm_id=str(result.id))
    for error in getattr(data, "errors", None) or []:
        context = error.context or {}
        category = error.category or "ERROR"
        for value in [*context.get("objectWriteTraceId", []), *context.get("ids", [])]:
            key = value if value in pending else by_folded.get(value.casefold())
            if key is not None and key not in outcomes:
                outcomes[key] = WriteResult(
                    key=key, outcome="failed", error_code=category, error_message=error.message,
                    error_fields=tuple(name for d in error.errors or [] for name in (d.context or {}).get("propertyName", [])),
                    retriable=category in TRANSIENT_CATEGORIES,
                )
    for key in pending:
        if key not in outcomes:
            outcomes[key] = WriteResult(key=key, outcome="failed", error_code="NO_OUTCOME",
                                        error_message="HubSpot reported no outcome for this record", retriable=True)
    return outcomes
