"""Bulk API 2.0: ingest jobs (create, upload CSV, UploadComplete, results CSVs) and query jobs (results CSV
paged with `Sforce-Locator`). Jobs run to completion as soon as their data is complete; hardDelete deletes
like delete (to the recycle bin)."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import soql
from .errors import ApiError, RecordError
from .ids import normalize_id
from .restapi import RestRequest, RestResponse
from .schema import FieldDef, ObjectDef
from .state import record_id_of
from .timefmt import bulk_datetime, format_datetime

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
QUERY_OPERATIONS = ("query", "queryAll")
CSV_CONTENT_TYPE = "text/csv"
NULL_VALUE = "#N/A"
MAX_JOBS = 50


@dataclass
class _Job:
    id: str
    operation: str
    object_name: str
    created_by: str
    created_date: str
    api_version: str
    line_ending: str
    column_delimiter: str
    state: str
    system_modstamp: str = ""

    def base_info(self) -> dict[str, Any]:
        """The fields every job info starts with."""
        return {
            "id": self.id,
            "operation": self.operation,
            "object": self.object_name,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.system_modstamp or self.created_date,
            "state": self.state,
        }

    def csv_text(self, header: list[str], rows: list[list[str]]) -> str:
        """`header` and `rows` as CSV in the job's format, every value quoted."""
        out = io.StringIO()
        writer = csv.writer(
            out, delimiter=DELIMITERS[self.column_delimiter], lineterminator=LINE_ENDINGS[self.line_ending],
            quoting=csv.QUOTE_ALL,
        )
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue()


@dataclass
class IngestJob(_Job):
    """An ingest job and, once processed, its per-row results."""

    external_id_field: str | None = None
    data: str | None = None
    header: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error_message: str | None = None

    def info(self, full: bool) -> dict[str, Any]:
        """Job info: as created/patched (`full` False) or as GET shows it."""
        info = self.base_info()
        if self.external_id_field:
            info["externalIdFieldName"] = self.external_id_field
        info.update(concurrencyMode="Parallel", contentType="CSV", apiVersion=float(self.api_version))
        info["jobType"] = "V2Ingest"
        if not full:
            info["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
            info.update(lineEnding=self.line_ending, columnDelimiter=self.column_delimiter)
            return info
        info.update(
            lineEnding=self.line_ending,
            columnDelimiter=self.column_delimiter,
            numberRecordsProcessed=len(self.successful) + len(self.failed),
            numberRecordsFailed=len(self.failed),
            retries=0,
            totalProcessingTime=0,
            apiActiveProcessingTime=0,
            apexProcessingTime=0,
        )
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info


@dataclass
class QueryJob(_Job):
    """A query job with its result rows, taken when the job was created."""

    query: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def info(self, full: bool) -> dict[str, Any]:
        """Job info (the create answer when `full` is False, GET's otherwise)."""
        info = self.base_info()
        info.update(
            concurrencyMode="Parallel", contentType="CSV", apiVersion=float(self.api_version), jobType="V2Query"
        )
        info.update(lineEnding=self.line_ending, columnDelimiter=self.column_delimiter)
        if full:
            info.update(numberRecordsProcessed=len(self.rows), retries=0, totalProcessingTime=0,
                        isPkChunkingSupported=True)
        return info


class Bulk2Jobs:
    """The org's Bulk API 2.0 jobs: the latest MAX_JOBS of each kind (Salesforce keeps them for 7 days; the
    emulator bounds its memory instead)."""

    def __init__(self) -> None:
        self.ingest: dict[str, IngestJob] = {}
        self.queries: dict[str, QueryJob] = {}

    def add(self, job: IngestJob | QueryJob) -> None:
        """Keep a new job, dropping the oldest of its kind past MAX_JOBS."""
        jobs: dict[str, Any] = self.ingest if isinstance(job, IngestJob) else self.queries
        jobs[job.id] = job
        while len(jobs) > MAX_JOBS:
            del jobs[next(iter(jobs))]

    def count(self) -> dict[str, int]:
        """Jobs kept, per kind."""
        return {"ingest": len(self.ingest), "query": len(self.queries)}

    def clear(self) -> None:
        """Forget every job."""
        self.ingest.clear()
        self.queries.clear()


def _invalid_job(message: str) -> ApiError:
    return ApiError.of(400, "INVALIDJOB", message)


def _job_format(body: dict[str, Any]) -> tuple[str, str]:
    line_ending = str(body.get("lineEnding", "LF"))
    delimiter = str(body.get("columnDelimiter", "COMMA"))
    if line_ending not in LINE_ENDINGS:
        raise _invalid_job(f"InvalidJob : Invalid lineEnding: {line_ending}")
    if delimiter not in DELIMITERS:
        raise _invalid_job(f"InvalidJob : Invalid columnDelimiter: {delimiter}")
    return line_ending, delimiter


# ---- ingest --------------------------------------------------------------------------------------------------


def create_ingest_job(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """POST jobs/ingest: an Open job."""
    body = req.json()
    if not isinstance(body, dict):
        raise ApiError.bad_request("JSON_PARSER_ERROR", "The request body must be a JSON object")
    definition = emu.schema.get(str(body.get("object", "")))
    if definition is None:
        raise _invalid_job(f"InvalidJob : Invalid object: {body.get('object')}")
    operation = str(body.get("operation", ""))
    if operation not in INGEST_OPERATIONS:
        raise _invalid_job(f"InvalidJob : Invalid operation: {operation}")
    if body.get("contentType", "CSV") != "CSV":
        raise _invalid_job("InvalidJob : Only CSV content is supported")
    external_id_field = None
    if operation == "upsert":
        field_def = definition.field(str(body.get("externalIdFieldName", "")))
        if field_def is None or not (field_def.external_id or field_def.type == "id"):
            raise _invalid_job(
                f"InvalidJob : Field name provided, {body.get('externalIdFieldName')} does not match an External "
                f"ID, Salesforce Id, or indexed field for {definition.name}"
            )
        external_id_field = field_def.name
    line_ending, delimiter = _job_format(body)
    now = format_datetime(emu.clock.now())
    job = IngestJob(
        id=emu.ids.new("750"),
        operation=operation,
        object_name=definition.name,
        created_by=req.user_id,
        created_date=now,
        api_version=req.version,
        line_ending=line_ending,
        column_delimiter=delimiter,
        state="Open",
        external_id_field=external_id_field,
    )
    emu.bulk.add(job)
    return RestResponse(body=job.info(full=False))


def _ingest_job(emu: SalesforceEmulator, m: re.Match[str]) -> IngestJob:
    job = emu.bulk.ingest.get(m["job"])
    if job is None:
        raise ApiError.not_found()
    return job


def list_ingest_jobs(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET jobs/ingest."""
    records = [job.info(full=True) for job in emu.bulk.ingest.values()]
    return RestResponse(body={"done": True, "records": records, "nextRecordsUrl": None})


def get_ingest_job(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET jobs/ingest/ID."""
    return RestResponse(body=_ingest_job(emu, m).info(full=True))


def upload_ingest_data(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """PUT jobs/ingest/ID/batches: the job's CSV (once); 201."""
    job = _ingest_job(emu, m)
    if job.state != "Open" or job.data is not None:
        raise ApiError.of(
            400,
            "INVALIDJOBSTATE",
            f"Found multiple contents for job: <{job.id}>, please 'Close' / 'Abort' / 'Delete' the current Job then "
            "create a new Job and make sure you only do 'PUT' once on a given Job.",
        )
    try:
        job.data = req.body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError.of(400, "INVALIDBATCH", "InvalidBatch : The data is not UTF-8 encoded") from None
    return RestResponse(201)


def patch_ingest_job(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """PATCH jobs/ingest/ID {state}: UploadComplete runs the job at once; Aborted stops it."""
    job = _ingest_job(emu, m)
    body = req.json()
    state = body.get("state") if isinstance(body, dict) else None
    if state not in ("UploadComplete", "Aborted") or job.state != "Open":
        raise ApiError.of(400, "INVALIDJOBSTATE", f"Invalid state change from {job.state} to {state}")
    job.system_modstamp = format_datetime(emu.clock.now())
    job.state = str(state)
    answer = job.info(full=False)
    if state == "UploadComplete":
        _process_ingest(emu, job)
    return RestResponse(body=answer)


def delete_ingest_job(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """DELETE jobs/ingest/ID: 204 for a finished job."""
    job = _ingest_job(emu, m)
    if job.state not in ("JobComplete", "Aborted", "Failed"):
        raise ApiError.of(400, "INVALIDJOBSTATE", f"Cannot delete a job in state {job.state}")
    del emu.bulk.ingest[job.id]
    return RestResponse(204)


def ingest_results(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET jobs/ingest/ID/successfulResults | failedResults | unprocessedrecords: CSV."""
    job = _ingest_job(emu, m)
    kind = m["kind"].lower()
    if kind == "successfulresults":
        text = job.csv_text(["sf__Id", "sf__Created", *job.header], job.successful)
    elif kind == "failedresults":
        text = job.csv_text(["sf__Id", "sf__Error", *job.header], job.failed)
    else:
        text = job.csv_text(job.header, job.unprocessed)
    return RestResponse(body=text, media_type=CSV_CONTENT_TYPE)


def _fail_job(job: IngestJob, message: str, rows: list[list[str]]) -> None:
    job.state = "Failed"
    job.error_message = message
    job.unprocessed = rows


def _process_ingest(emu: SalesforceEmulator, job: IngestJob) -> None:
    """Apply every row, as the job's creator; the job ends JobComplete (or Failed for a bad header)."""
    definition = emu.schema.objects[job.object_name]
    reader = csv.reader(io.StringIO(job.data or "", newline=""), delimiter=DELIMITERS[job.column_delimiter])
    rows = [row for row in reader if row]
    if not rows:
        _fail_job(job, "InvalidBatch : Empty batch", [])
        return
    job.header, data_rows = rows[0], rows[1:]
    columns: list[FieldDef] = []
    for name in job.header:
        column = definition.field(name.strip())
        if column is None:
            _fail_job(job, f"InvalidBatch : Field name not found : {name}", data_rows)
            return
        columns.append(column)
    needed = job.external_id_field if job.operation == "upsert" else "Id" if job.operation != "insert" else None
    if needed and needed not in [column.name for column in columns]:
        _fail_job(job, f"InvalidBatch : Field name not found : {needed}", data_rows)
        return
    for row in data_rows:
        values = {
            column.name: (None if raw == NULL_VALUE else raw) for column, raw in zip(columns, row) if raw != ""
        }
        try:
            record_id, created = _apply_row(emu, job, definition, values)
            job.successful.append([record_id, "true" if created else "false", *row])
        except RecordError as exc:
            job.failed.append([normalize_id(values.get("Id")) or "", exc.bulk_text(), *row])
    job.state = "JobComplete"
    job.system_modstamp = format_datetime(emu.clock.now())


def _apply_row(
    emu: SalesforceEmulator, job: IngestJob, definition: ObjectDef, values: dict[str, Any]
) -> tuple[str, bool]:
    user = job.created_by
    if job.operation == "insert":
        return emu.api_create(definition.name, values, user), True
    if job.operation == "upsert":
        assert job.external_id_field is not None
        value = values.get(job.external_id_field)
        return emu.api_upsert(definition.name, job.external_id_field, value, values, user)
    record_id, raw_id = record_id_of(values)
    if record_id is None or emu.schema.for_id(record_id) is not definition:
        raise RecordError("MALFORMED_ID", f"{definition.name} ID: id value of incorrect type: {raw_id}", ["Id"])
    if job.operation == "update":
        emu.api_update(definition.name, record_id, {k: v for k, v in values.items() if k != "Id"}, user)
        return record_id, False
    emu.api_delete(definition.name, record_id, user)
    return record_id, False


# ---- query ---------------------------------------------------------------------------------------------------


def _csv_value(field_def: FieldDef, value: Any) -> str:
    if value is None:
        return ""
    if field_def.type == "datetime":
        return bulk_datetime(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_row(emu: SalesforceEmulator, parsed: soql.Query, record: dict[str, Any]) -> list[str]:
    """One result row: the selected fields, then each selected parent field (`Account.Name`)."""
    row = [_csv_value(f, record.get(f.name)) for f in parsed.fields]
    for selected in parsed.parents:
        parent = selected.parent_of(record, emu.store.get)
        row.append(_csv_value(selected.field, None if parent is None else parent.get(selected.field.name)))
    return row


def create_query_job(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """POST jobs/query: runs the query at once (the job is JobComplete when next read)."""
    body = req.json()
    if not isinstance(body, dict):
        raise ApiError.bad_request("JSON_PARSER_ERROR", "The request body must be a JSON object")
    operation = str(body.get("operation", "query"))
    if operation not in QUERY_OPERATIONS:
        raise _invalid_job(f"InvalidJob : Invalid operation: {operation}")
    line_ending, delimiter = _job_format(body)
    try:
        parsed = soql.parse(str(body.get("query", "")), emu.schema)
    except soql.SoqlError as exc:
        raise exc.api_error() from None
    if parsed.count is not None:
        raise ApiError.of(400, "API_ERROR", "Aggregate queries are not supported by Bulk API 2.0")
    records = parsed.run(emu.store.all(parsed.object.name, operation == "queryAll", parsed.modified_since))
    now = format_datetime(emu.clock.now())
    job = QueryJob(
        id=emu.ids.new("750"),
        operation=operation,
        object_name=parsed.object.name,
        created_by=req.user_id,
        created_date=now,
        api_version=req.version,
        line_ending=line_ending,
        column_delimiter=delimiter,
        state="UploadComplete",
        query=str(body["query"]),
        header=[f.name for f in parsed.fields] + [p.path for p in parsed.parents],
        rows=[_csv_row(emu, parsed, record) for record in records],
    )
    answer = job.info(full=False)
    job.state = "JobComplete"
    emu.bulk.add(job)
    return RestResponse(body=answer)


def _query_job(emu: SalesforceEmulator, m: re.Match[str]) -> QueryJob:
    job = emu.bulk.queries.get(m["job"])
    if job is None:
        raise ApiError.not_found()
    return job


def list_query_jobs(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET jobs/query."""
    records = [job.info(full=True) for job in emu.bulk.queries.values()]
    return RestResponse(body={"done": True, "records": records, "nextRecordsUrl": None})


def get_query_job(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET jobs/query/ID."""
    return RestResponse(body=_query_job(emu, m).info(full=True))


def patch_query_job(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """PATCH jobs/query/ID {state: Aborted}."""
    job = _query_job(emu, m)
    body = req.json()
    requested = body.get("state") if isinstance(body, dict) else None
    if requested != "Aborted" or job.state not in ("UploadComplete", "InProgress"):
        raise ApiError.of(400, "INVALIDJOBSTATE", f"Invalid state change from {job.state}")
    job.state = "Aborted"
    return RestResponse(body=job.info(full=False))


def delete_query_job(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """DELETE jobs/query/ID."""
    job = _query_job(emu, m)
    del emu.bulk.queries[job.id]
    return RestResponse(204)


def _encode_locator(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError.of(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from None


def query_results(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """GET jobs/query/ID/results?locator=&maxRecords=: CSV, next locator in Sforce-Locator."""
    job = _query_job(emu, m)
    if job.state != "JobComplete":
        raise ApiError.of(400, "INVALIDJOBSTATE", f"Results are not available for a job in state {job.state}")
    locator = req.params.get("locator", "")
    offset = _decode_locator(locator) if locator and locator != "null" else 0
    try:
        max_records = int(req.params.get("maxRecords") or len(job.rows) or 1)
    except ValueError:
        raise ApiError.of(400, "INVALIDJOB", "maxRecords must be a positive integer") from None
    if max_records < 1:
        raise ApiError.of(400, "INVALIDJOB", "maxRecords must be a positive integer")
    page = job.rows[offset : offset + max_records]
    end = offset + max_records
    headers = {
        "Sforce-Locator": _encode_locator(end) if end < len(job.rows) else "null",
        "Sforce-NumberOfRecords": str(len(page)),
    }
    return RestResponse(body=job.csv_text(job.header, page), headers=headers, media_type=CSV_CONTENT_TYPE)
