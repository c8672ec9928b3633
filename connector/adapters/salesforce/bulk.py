"""Bulk API 2.0 upsert (simple-salesforce's `sf.bulk2.<Object>.upsert`), for batches above the adapter's
`bulk_threshold`: one ingest job (create, upload CSV, UploadComplete, polls, results), about eight API
calls whatever the size, mapped back to the inputs through the external id column of the successful
and failed results CSVs.

Cells: an empty cell leaves a field unchanged, `#N/A` sets it to null (records.csv_value). The polling
between job status checks is simple-salesforce's own (`bulk_poll_seconds`, its time.sleep).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from simple_salesforce.api import Salesforce

from connector.adapters.base import WriteResult

from .client import SalesforceClient
from .errors import bulk_failure
from .records import csv_value

Pending = Mapping[str, Mapping[str, Any]]
"""External id value -> the record to write for it."""


class BulkUpserter:
    """Upserts many records of one object by external id through Bulk API 2.0 ingest jobs."""

    def __init__(self, client: SalesforceClient, poll_seconds: float):
        self.client = client
        self.poll_seconds = poll_seconds

    def upsert(self, obj: str, external_id_field: str, pending: Pending) -> dict[str, WriteResult]:
        """Outcomes by external id value; records the job reported nothing for are left out (the caller
        sends them again another way)."""
        rows = [{name: csv_value(value) for name, value in record.items()} for record in pending.values()]

        def run(sf: Salesforce) -> list[tuple[str, str]]:
            bulk = getattr(sf.bulk2, obj)
            jobs = bulk.upsert(records=rows, external_id_field=external_id_field, wait=self.poll_seconds)
            return [(bulk.get_successful_records(job["job_id"]), bulk.get_failed_records(job["job_id"])) for job in jobs]

        outcomes: dict[str, WriteResult] = {}
        for successful, failed in self.client.call(run):
            for row in csv.DictReader(io.StringIO(successful)):
                key = row.get(external_id_field)
                if key is not None and key in pending:
                    created = row.get("sf__Created", "").lower() == "true"
                    outcomes[key] = WriteResult(key=key, outcome="created" if created else "updated", crm_id=row.get("sf__Id") or None)
            for row in csv.DictReader(io.StringIO(failed)):
                key = row.get(external_id_field)
                if key is not None and key in pending:
                    outcomes[key] = bulk_failure(key, row.get("sf__Error") or "", row.get("sf__Id") or None)
        return outcomes
