"""Writes: upsert by external id, update and delete by record id, through sObject Collections packed
into /composite, one WriteResult per input in input order.

- Up to 200 records a collection and five collections a /composite call: 1,000 records per API call.
  An upsert may go through Bulk API 2.0 first (bulk.py) above a given size.
- Inputs naming the same external id value (or record id) are merged into one record (later values
  win): Salesforce refuses a collection naming one record twice. The first input of an upsert
  reports the outcome, the later ones "updated".
- Records that failed transiently (UNABLE_TO_LOCK_ROW, or no outcome reported) are sent again, only
  they, under the client's backoff policy for at most `max_attempts` rounds; what still fails is
  reported `retriable`.
- Deleting a record that is already deleted counts as deleted (a retried delete succeeds).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from tenacity import retry_if_result

from connector.adapters.base import WriteResult

from .bulk import BulkUpserter
from .client import SalesforceClient
from .composite import Composite, SubAnswer, Subrequest
from .errors import record_failure
from .records import json_value
from .settings import COLLECTION_LIMIT
from .soql import api_name

Pending = dict[str, dict[str, Any]]
"""Key (external id value, or record id for updates and deletes) -> the record to write."""
Send = Callable[[Pending], dict[str, WriteResult]]

RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
ALREADY_DELETED = "ENTITY_IS_DELETED"


def _key(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _malformed_id(record_id: str) -> WriteResult:
    return WriteResult(key=record_id, outcome="failed", error_code="MALFORMED_ID",
                       error_message=f"not a Salesforce record id: {record_id!r}")


def _no_outcome(key: str) -> WriteResult:
    return WriteResult(key=key, outcome="failed", error_code="NO_OUTCOME",
                       error_message="Salesforce reported no outcome for this record", retriable=True)


class CollectionWriter:
    """Upserts, updates and deletes records of any object."""

    def __init__(self, client: SalesforceClient, bulk: BulkUpserter):
        self.client = client
        self.composite = Composite(client)
        self.bulk = bulk

    def upsert(self, obj: str, external_id_field: str, records: Sequence[Mapping[str, Any]], *,
               bulk_above: int | None = None) -> list[WriteResult]:
        """Upsert by external id; more than `bulk_above` distinct records go through Bulk API 2.0 first."""
        api_name(obj)
        api_name(external_id_field)
        pending: Pending = {}
        for record in records:
            key = _key(record.get(external_id_field))
            if key is not None:
                pending.setdefault(key, {}).update(record)
        use_bulk = bulk_above is not None and len(pending) > bulk_above
        outcomes = self.bulk.upsert(obj, external_id_field, pending) if use_bulk else {}
        self._settle(pending, outcomes, lambda batch: self._upsert(obj, external_id_field, batch))
        results: list[WriteResult] = []
        written: set[str] = set()
        for record in records:
            key = _key(record.get(external_id_field))
            if key is None:
                results.append(WriteResult(key="", outcome="failed", error_code="MISSING_EXTERNAL_ID",
                                           error_message=f"the record has no {external_id_field} value",
                                           error_fields=(external_id_field,)))
                continue
            outcome = outcomes[key]
            if key in written and outcome.ok:
                outcome = replace(outcome, outcome="updated")
            written.add(key)
            results.append(outcome)
        return results

    def update(self, obj: str, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        """Update by record id; inputs naming one id twice are merged (later values win)."""
        api_name(obj)
        pending: Pending = {}
        for crm_id, fields in records:
            if RECORD_ID.fullmatch(str(crm_id)):
                pending.setdefault(str(crm_id), {}).update({name: value for name, value in fields.items() if name.lower() != "id"})
        outcomes: dict[str, WriteResult] = {}
        self._settle(pending, outcomes, lambda batch: self._update(obj, batch))
        return [outcomes.get(str(crm_id)) or _malformed_id(str(crm_id)) for crm_id, _ in records]

    def delete(self, ids: Sequence[str]) -> list[WriteResult]:
        pending: Pending = {record_id: {} for record_id in ids if RECORD_ID.fullmatch(record_id)}
        outcomes: dict[str, WriteResult] = {}
        self._settle(pending, outcomes, self._delete)
        return [outcomes.get(record_id) or _malformed_id(record_id) for record_id in ids]

    def _settle(self, pending: Pending, outcomes: dict[str, WriteResult], send: Send) -> None:
        """Send what has no outcome yet or failed transiently, in rounds under the backoff policy."""

        def send_unsettled() -> bool:
            unsettled = {key: record for key, record in pending.items() if key not in outcomes or outcomes[key].retriable}
            outcomes.update(send(unsettled))
            return any(outcomes[key].retriable for key in unsettled)

        if any(key not in outcomes or outcomes[key].retriable for key in pending):
            self.client.retrying(retry_if_result(bool), retry_error_callback=lambda state: state.outcome.result())(send_unsettled)

    def _upsert(self, obj: str, external_id_field: str, batch: Pending) -> dict[str, WriteResult]:
        chunks = _chunks(list(batch))
        path = f"composite/sobjects/{obj}/{external_id_field}"
        subrequests = [Subrequest("PATCH", path, _collection(obj, [batch[key] for key in chunk])) for chunk in chunks]

        def outcome(key: str, result: Mapping[str, Any]) -> WriteResult:
            if result.get("success"):
                return WriteResult(key=key, outcome="created" if result.get("created") else "updated", crm_id=result.get("id"))
            return record_failure(key, result.get("errors") or [], result.get("id"))

        return _collect(chunks, self.composite.run(subrequests), outcome)

    def _update(self, obj: str, batch: Pending) -> dict[str, WriteResult]:
        chunks = _chunks(list(batch))
        subrequests = [
            Subrequest("PATCH", "composite/sobjects", _collection(obj, [{**batch[key], "Id": key} for key in chunk]))
            for chunk in chunks
        ]

        def outcome(key: str, result: Mapping[str, Any]) -> WriteResult:
            if result.get("success"):
                return WriteResult(key=key, outcome="updated", crm_id=key)
            return record_failure(key, result.get("errors") or [], key)

        return _collect(chunks, self.composite.run(subrequests), outcome)

    def _delete(self, batch: Pending) -> dict[str, WriteResult]:
        chunks = _chunks(list(batch))
        subrequests = [
            Subrequest("DELETE", "composite/sobjects?" + urlencode({"ids": ",".join(chunk), "allOrNone": "false"}))
            for chunk in chunks
        ]

        def outcome(key: str, result: Mapping[str, Any]) -> WriteResult:
            errors = result.get("errors") or []
            if result.get("success") or [error.get("statusCode") for error in errors] == [ALREADY_DELETED]:
                return WriteResult(key=key, outcome="deleted", crm_id=key)
            return record_failure(key, errors, key)

        return _collect(chunks, self.composite.run(subrequests), outcome)


def _collection(obj: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """An sObject Collections body: each record typed, values as JSON, independent of the others."""
    return {"allOrNone": False, "records": [
        {"attributes": {"type": obj}, **{name: json_value(value) for name, value in record.items()}} for record in records
    ]}


def _chunks(keys: list[str]) -> list[list[str]]:
    return [keys[start:start + COLLECTION_LIMIT] for start in range(0, len(keys), COLLECTION_LIMIT)]


def _collect(chunks: list[list[str]], answers: Iterable[SubAnswer],
             outcome: Callable[[str, Mapping[str, Any]], WriteResult]) -> dict[str, WriteResult]:
    """Outcomes by key from the collections' answers (positional: one result per record sent)."""
    outcomes: dict[str, WriteResult] = {}
    for chunk, answer in zip(chunks, answers):
        if answer.error is not None:
            raise answer.error
        for key, result in zip(chunk, answer.body):
            outcomes[key] = outcome(key, result)
    return {key: outcomes.get(key) or _no_outcome(key) for chunk in chunks for key in chunk}
