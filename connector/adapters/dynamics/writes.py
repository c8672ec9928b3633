"""Writes through `$batch`: upserts by alternate key (`PATCH set(upm_id='v')`, answered 201 created or
200 updated with `Prefer: return=representation`), updates by id (`If-Match: *`, never a create),
deletes; one WriteResult per record in order. Operations that failed transiently (429, 5xx) are sent
again under the retry policy; what still fails is reported `retriable`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tenacity import retry_if_result

from connector.adapters.base import FatalError, WriteResult

from . import batch
from .batch import Operation, Outcome
from .client import DataverseClient, error_of
from .records import payload, quoted
from .settings import API_PATH

TRANSIENT = frozenset({429, 500, 502, 503, 504})


class Writer:
    def __init__(self, client: DataverseClient, batch_size: int):
        self.client = client
        self.batch_size = batch_size

    def upsert(self, table: str, entity_set: str, primary_id: str, key_field: str,
               records: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        ops: list[tuple[str, Operation] | WriteResult] = []
        for record in records:
            key = record.get(key_field)
            if key in (None, ""):
                ops.append(WriteResult(key="", outcome="failed", error_code="MISSING_EXTERNAL_ID",
                                       error_message=f"the record has no {key_field} value", error_fields=(key_field,)))
                continue
            path = f"{entity_set}({key_field}={quoted(key)})?$select={primary_id}"
            try:
                body = payload(table, record, skip=key_field)
            except FatalError as exc:
                ops.append(WriteResult(key=str(key), outcome="failed", error_code="BAD_VALUE", error_message=str(exc)))
                continue
            ops.append((str(key), Operation("PATCH", path, body, {"Prefer": "return=representation"})))
        return self._run(ops, primary_id)

    def update(self, table: str, entity_set: str, primary_id: str,
               records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        ops: list[tuple[str, Operation] | WriteResult] = []
        for crm_id, fields in records:
            try:
                ops.append((str(crm_id), Operation("PATCH", f"{entity_set}({crm_id})", payload(table, fields), {"If-Match": "*"})))
            except FatalError as exc:
                ops.append(WriteResult(key=str(crm_id), outcome="failed", error_code="BAD_VALUE", error_message=str(exc)))
        return self._run(ops, primary_id)

    def delete(self, entity_set: str, primary_id: str, ids: Sequence[str]) -> list[WriteResult]:
        ops: list[tuple[str, Operation] | WriteResult] = [
            (str(crm_id), Operation("DELETE", f"{entity_set}({crm_id})")) for crm_id in ids
        ]
        return self._run(ops, primary_id)

    def _run(self, ops: Sequence[tuple[str, Operation] | WriteResult], primary_id: str) -> list[WriteResult]:
        results: dict[int, WriteResult] = {i: op for i, op in enumerate(ops) if isinstance(op, WriteResult)}
        pending = {i: op for i, op in enumerate(ops) if not isinstance(op, WriteResult)}

        def send_unsettled() -> dict[int, tuple[str, Operation]]:
            todo = {i: op for i, op in pending.items() if i not in results or results[i].retriable}
            items = list(todo.items())
            for start in range(0, len(items), self.batch_size):
                chunk = items[start:start + self.batch_size]
                outcomes = self._send([op for _, (_, op) in chunk])
                for (i, (key, op)), outcome in zip(chunk, outcomes):
                    results[i] = _result(key, op, outcome, primary_id)
            return {i: op for i, op in todo.items() if results[i].retriable}

        if pending:
            self.client.policy.retrying(self.client.sleep, retry_if_result(bool),
                                        retry_error_callback=lambda state: state.outcome.result())(send_unsettled)
        return [results[i] for i in range(len(ops))]

    def _send(self, operations: list[Operation]) -> list[Outcome | None]:
        """One `$batch`; None for operations it did not answer."""
        content_type, body = batch.encode(operations, API_PATH)
        response = self.client.request("POST", self.client.url("$batch"), data=body,
                                       headers={"Content-Type": content_type, "Prefer": "odata.continue-on-error"})
        outcomes: list[Outcome | None] = list(batch.decode(response.headers.get("Content-Type", ""), response.content))
        return outcomes + [None] * (len(operations) - len(outcomes))


def _result(key: str, op: Operation, outcome: Outcome | None, primary_id: str) -> WriteResult:
    if outcome is None:
        return WriteResult(key=key, outcome="failed", error_code="NO_OUTCOME", error_message="Dataverse answered nothing for it",
                           retriable=True)
    if outcome.status < 400 or (op.method == "DELETE" and outcome.status == 404):
        if op.method == "DELETE":
            return WriteResult(key=key, outcome="deleted", crm_id=key)
        crm_id = _entity_id(outcome, primary_id) or key
        return WriteResult(key=key, outcome="created" if outcome.status == 201 else "updated", crm_id=crm_id)
    code, message = error_of(outcome.body)
    return WriteResult(key=key, outcome="failed", error_code=code or f"HTTP {outcome.status}", error_message=message,
                       retriable=outcome.status in TRANSIENT)


def _entity_id(outcome: Outcome, primary_id: str) -> str | None:
    if isinstance(outcome.body, dict) and outcome.body.get(primary_id):
        return str(outcome.body[primary_id])
    location = outcome.headers.get("odata-entityid", "")
    return location.rsplit("(", 1)[1].rstrip(")") if "(" in location else None
