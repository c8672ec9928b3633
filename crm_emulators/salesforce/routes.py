"""The data API's route table (paths relative to `/services/data/vXX.X/`) and each route's usage category."""

from __future__ import annotations

from . import bulk2, composite, resources, sobject_collections
from .restapi import Route, route

_OBJECT = r"(?P<object>\w+)"
_INGEST_JOB = r"jobs/ingest/(?P<job>\w+)"
_QUERY_JOB = r"jobs/query/(?P<job>\w+)"

ROUTES: list[Route] = [
    route("GET", r"limits", "limits", resources.limits),
    route("GET", r"(?P<resource>query|queryAll)", "query", resources.query),
    route("GET", r"(?P<resource>query|queryAll)/(?P<locator>[^/]+)", "queryMore", resources.query_more),
    route("GET", r"sobjects", "describe", resources.describe_global),
    route("GET", rf"sobjects/{_OBJECT}", "describe", resources.sobject_basic_info),
    route("POST", rf"sobjects/{_OBJECT}", "sobject", resources.create_record),
    route("GET", rf"sobjects/{_OBJECT}/describe", "describe", resources.describe_sobject),
    route("GET", rf"sobjects/{_OBJECT}/updated", "getUpdated", resources.get_updated),
    route("GET", rf"sobjects/{_OBJECT}/deleted", "getDeleted", resources.get_deleted),
    route("GET", rf"sobjects/{_OBJECT}/(?P<id>[^/]+)", "sobject", resources.get_record),
    route("PATCH", rf"sobjects/{_OBJECT}/(?P<id>[^/]+)", "sobject", resources.update_record),
    route("DELETE", rf"sobjects/{_OBJECT}/(?P<id>[^/]+)", "sobject", resources.delete_record),
    route("GET", rf"sobjects/{_OBJECT}/(?P<field>\w+)/(?P<value>.+)", "sobject", resources.get_by_external_id),
    route("PATCH", rf"sobjects/{_OBJECT}/(?P<field>\w+)/(?P<value>.+)", "sobject", resources.upsert_by_external_id),
    route("DELETE", rf"sobjects/{_OBJECT}/(?P<field>\w+)/(?P<value>.+)", "sobject", resources.delete_by_external_id),
    route("POST", r"composite/sobjects", "collections", sobject_collections.create),
    route("PATCH", r"composite/sobjects", "collections", sobject_collections.update),
    route("DELETE", r"composite/sobjects", "collections", sobject_collections.delete),
    route("GET", rf"composite/sobjects/{_OBJECT}", "collections", sobject_collections.retrieve),
    route("PATCH", rf"composite/sobjects/{_OBJECT}/(?P<field>\w+)", "collections", sobject_collections.upsert),
    route("POST", r"composite", "composite", composite.composite),
    route("POST", r"jobs/ingest", "bulk2", bulk2.create_ingest_job),
    route("GET", r"jobs/ingest", "bulk2", bulk2.list_ingest_jobs),
    route("GET", _INGEST_JOB, "bulk2", bulk2.get_ingest_job),
    route("PATCH", _INGEST_JOB, "bulk2", bulk2.patch_ingest_job),
    route("DELETE", _INGEST_JOB, "bulk2", bulk2.delete_ingest_job),
    route("PUT", rf"{_INGEST_JOB}/batches", "bulk2", bulk2.upload_ingest_data),
    route(
        "GET",
        rf"{_INGEST_JOB}/(?P<kind>(?i:successfulResults|failedResults|unprocessedRecords))",
        "bulk2",
        bulk2.ingest_results,
    ),
    route("POST", r"jobs/query", "bulk2", bulk2.create_query_job),
    route("GET", r"jobs/query", "bulk2", bulk2.list_query_jobs),
    route("GET", _QUERY_JOB, "bulk2", bulk2.get_query_job),
    route("PATCH", _QUERY_JOB, "bulk2", bulk2.patch_query_job),
    route("DELETE", _QUERY_JOB, "bulk2", bulk2.delete_query_job),
    route("GET", rf"{_QUERY_JOB}/results", "bulk2", bulk2.query_results),
]
