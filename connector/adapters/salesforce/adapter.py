"""SalesforceAdapter: the CrmAdapter contract over Salesforce's REST API through simple-salesforce."""

from __future__ import annotations

import time
from urllib.parse import quote
from collections.abc import Callable, Iterator, Mapping, Sequence, Sized
from datetime import datetime, timedelta
from typing import Any, ClassVar

import requests
from simple_salesforce.api import Salesforce

from connector.adapters.base import (
    ApiUsage,
    CrmAdapter,
    CrmRecord,
    DeletedRecords,
    FatalError,
    FieldInfo,
    ObjectDescription,
    Tokens,
    WriteResult,
)
from connector.clock import Clock

from .bulk import BulkUpserter
from .changes import query_pages
from .client import SalesforceClient
from .deleted import read_deleted
from .quota import QuotaGuard
from .records import crm_record, utc
from .session import HttpSession, SalesforceSession
from .settings import MODIFIED_FIELD, SYSTEM_FIELDS, UPSERT_BATCH, AdapterOptions, object_settings
from .soql import api_name, changes_query
from .writes import CollectionWriter


class SalesforceAdapter(CrmAdapter):
    """One connection to one Salesforce org.

    `tokens` is an OAuthClient (or anything with `current()` / `refresh(seen_generation)` giving token
    sets with `access_token`, `instance_url` and `generation`); `ca_file` is the CA bundle to trust for
    the instance (a local emulator); `options` are described in `settings.AdapterOptions`.

    `upsert` and `update` take up to `max_upsert_batch` (1,000) records, written in ONE /composite call.
    Beyond the contract, `upsert_many` takes any number (initial loads): /composite calls of 1,000, or
    one Bulk API 2.0 job above `bulk_threshold` records.
    """

    options_class = AdapterOptions

    name: ClassVar[str] = "salesforce"
    max_upsert_batch: ClassVar[int] = UPSERT_BATCH
    stamp_resolution: ClassVar[timedelta] = timedelta(seconds=1)
    """SystemModstamp has millisecond digits, always .000, and SOQL datetime literals have none."""

    def __init__(
        self,
        connection: str,
        tokens: Tokens,
        *,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        options: Mapping[str, Any] = {},
        ca_file: str | None = None,
    ):
        self.connection = connection
        self.clock = clock
        self.options = AdapterOptions.parse(options)
        self.guard = QuotaGuard(clock, self.options.quota_stop_share, self.options.quota_recheck_seconds)
        self.http = HttpSession(ca_file, self.options.timeout, self._observe)
        self.session = SalesforceSession(tokens, self.http, self.options.api_version, self.options.instance_url)
        self.client = SalesforceClient(self.session, self.guard, clock, sleep, self.options)
        self._writer = CollectionWriter(self.client, BulkUpserter(self.client, self.options.bulk_poll_seconds))

    @classmethod
    def open(
        cls, connection: str, tokens: Tokens, *, endpoint: str | None, ca_file: str | None, clock: Clock,
        sleep: Callable[[float], None], options: Mapping[str, Any],
    ) -> SalesforceAdapter:
        """From a configured connection: `endpoint` is the instance URL, used when the token set names
        none (Salesforce's token response does); `ca_file` the CA to trust for it (a local emulator)."""
        with_endpoint = {"instance_url": endpoint, **options} if endpoint else dict(options)
        return cls(connection, tokens, clock=clock, sleep=sleep, options=with_endpoint, ca_file=ca_file)

    def __repr__(self) -> str:
        return f"SalesforceAdapter({self.connection!r})"

    def describe(self, obj: str) -> ObjectDescription:
        path = f"sobjects/{api_name(obj)}/describe"

        def send(sf: Salesforce) -> Any:
            return sf.restful(path)

        document = self.client.call(send)
        fields = {
            f["name"]: FieldInfo(
                name=f["name"],
                type=f["type"],
                external_id=bool(f.get("externalId")),
                unique=bool(f.get("unique")) or f["type"] == "id",
                updateable=bool(f.get("updateable")),
                nillable=bool(f.get("nillable")),
                label=f.get("label"),
            )
            for f in document["fields"]
        }
        return ObjectDescription(name=document["name"], fields=fields, modified_field=MODIFIED_FIELD)

    def read_changes(
        self, obj: str, since: datetime | None, fields: Sequence[str], *, lookback_seconds: float = 0
    ) -> Iterator[list[CrmRecord]]:
        settings = object_settings(obj)
        external_id = (settings.external_id_field,) if settings.external_id_field else ()
        selected = [*SYSTEM_FIELDS, *external_id, *(fields or settings.default_fields)]
        anchor = None if since is None else utc(since) - timedelta(seconds=lookback_seconds)
        soql = changes_query(obj, selected, anchor, self.options.filters.get(obj, {}))
        return query_pages(self.client, soql, self.options.page_size, self.options.query_batch_size)

    def fetch(self, obj: str, crm_id: str, fields: Sequence[str]) -> CrmRecord | None:
        """GET sobjects/OBJ/ID?fields=...: one call; a 404 (no such record, or deleted) is None."""
        settings = object_settings(obj)
        external_id = (settings.external_id_field,) if settings.external_id_field else ()
        selected = list(dict.fromkeys([*SYSTEM_FIELDS, *external_id, *(fields or settings.default_fields)]))
        path = f"sobjects/{api_name(obj)}/{quote(crm_id, safe='')}"

        def send(sf: Salesforce) -> Any:
            return sf.restful(path, params={"fields": ",".join(selected)})

        try:
            row = self.client.call(send)
        except FatalError as refused:
            if refused.status == 404:
                return None
            raise
        return crm_record(row)

    def read_deleted(self, obj: str, since: datetime) -> DeletedRecords:
        """Deleted records from the delete log and the recycle bin, in one /composite call (deleted.py)."""
        return read_deleted(self.client, obj, since, self.clock.now())

    def upsert(self, obj: str, external_id_field: str, records: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        _check_batch(records)
        return self._writer.upsert(obj, external_id_field, records)

    def upsert_many(self, obj: str, external_id_field: str, records: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """`upsert` for any number of records (an initial load): /composite calls of 1,000 records, or
        above `bulk_threshold` one Bulk API 2.0 job (records it fails transiently are sent again
        through /composite)."""
        return self._writer.upsert(obj, external_id_field, records, bulk_above=self.options.bulk_threshold)

    def update(self, obj: str, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        _check_batch(records)
        return self._writer.update(obj, records)

    def delete(self, obj: str, ids: Sequence[str]) -> list[WriteResult]:
        """Delete by record id (an id names its object: `obj` only documents the caller's intent)."""
        return self._writer.delete(ids)

    def owner_ids(self, emails: Sequence[str]) -> dict[str, str]:
        """Active Salesforce Users by Email (one SOQL query)."""
        wanted = list(dict.fromkeys(e.strip().lower() for e in emails if "'" not in e and "\\" not in e))
        if not wanted:
            return {}
        soql = "SELECT Id, Email, SystemModstamp FROM User WHERE IsActive = true AND Email IN ({})".format(
            ", ".join(f"'{e}'" for e in wanted))
        found: dict[str, str] = {}
        for page in query_pages(self.client, soql, self.options.page_size, self.options.query_batch_size):
            for row in page:
                found.setdefault(str(row.fields.get("Email", "")).lower(), row.id)
        return found

    def api_usage(self) -> ApiUsage:
        """The org's usage as the last `Sforce-Limit-Info` reported it (the whole org, a rolling 24 hours),
        and the responses this adapter got (failed calls included)."""
        return ApiUsage(
            used=self.guard.used,
            limit=self.guard.limit,
            calls_made=self.http.responses,
            window="day",
            details={
                "per_app": dict(self.guard.per_app),
                "stop_share": self.guard.stop_share,
                "refreshes": self.session.refreshes,
                "unauthorized": self.client.unauthorized,
            },
        )

    def close(self) -> None:
        self.http.close()

    def _observe(self, response: requests.Response) -> None:
        self.guard.observe(response.headers.get("Sforce-Limit-Info"))


def _check_batch(records: Sized) -> None:
    if len(records) > UPSERT_BATCH:
        raise ValueError(f"Salesforce writes at most {UPSERT_BATCH} records a call (one /composite request), got {len(records)}")
