"""HubSpotAdapter: the CrmAdapter contract over HubSpot's CRM v3 objects, plus v4 associations."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

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

from .associations import Associations
from .changes import ChangeReader
from .client import HubSpotClient
from .records import crm_record, utc
from .settings import ARCHIVE_RETENTION_DAYS, BATCH_LIMIT, LIST_PAGE_LIMIT, RECORD_ID, AdapterOptions, object_settings
from .tokens import PrivateAppToken
from .writes import BatchWriter


class HubSpotAdapter(CrmAdapter):
    """One connection to one HubSpot account (portal).

    `tokens` is an OAuthClient (access tokens refreshed ahead of expiry) or a PrivateAppToken;
    `base_url` None means the real HubSpot API; `options` are described in `settings.AdapterOptions`.
    Objects: contacts, companies, deals, notes (any other object type is read by hs_lastmodifieddate).
    Beyond the contract: `associate` and `read_associations`.
    """

    options_class = AdapterOptions

    name: ClassVar[str] = "hubspot"
    max_upsert_batch: ClassVar[int] = BATCH_LIMIT

    def __init__(
        self,
        connection: str,
        tokens: Tokens,
        *,
        base_url: str | None = None,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        options: Mapping[str, Any] = {},
    ):
        self.connection = connection
        self.clock = clock
        self.options = AdapterOptions.parse(options)
        self.client = HubSpotClient(tokens, base_url, clock, sleep, self.options)
        self._writer = BatchWriter(self.client)
        self._associations = Associations(self.client)

    @classmethod
    def open(
        cls, connection: str, tokens: Tokens, *, endpoint: str | None, ca_file: str | None, clock: Clock,
        sleep: Callable[[float], None], options: Mapping[str, Any],
    ) -> HubSpotAdapter:
        """From a configured connection: `endpoint` is the API host (None: api.hubapi.com).
        HubSpot is plain public HTTPS, so `ca_file` is not used."""
        return cls(connection, tokens, base_url=endpoint, clock=clock, sleep=sleep, options=options)

    auth_variants: ClassVar[Mapping[str, tuple[str, ...]]] = {"private_app": ("token",)}
    """A private app's static token, HubSpot's alternative to OAuth for a single account."""

    @classmethod
    def static_tokens(cls, auth: Any) -> Tokens | None:
        """A private app's static token (`auth: {type: private_app, token: ...}`); None otherwise."""
        if auth.type != "private_app":
            return None
        return PrivateAppToken(auth.token.get())

    def __repr__(self) -> str:
        return f"HubSpotAdapter({self.connection!r})"

    def describe(self, obj: str) -> ObjectDescription:
        api = self.client.api("crm.properties.core_api")
        data, _, _ = self.client.call(api.get_all_with_http_info, obj)
        fields = {}
        for prop in data.results or []:
            metadata = prop.modification_metadata
            fields[prop.name] = FieldInfo(
                name=prop.name,
                type=prop.type,
                external_id=bool(prop.has_unique_value),
                unique=bool(prop.has_unique_value) or prop.name == RECORD_ID,
                updateable=not (metadata is not None and metadata.read_only_value),
                label=prop.label,
            )
        return ObjectDescription(name=obj, fields=fields, modified_field=object_settings(obj).modified_property)

    def read_changes(
        self, obj: str, since: datetime | None, fields: Sequence[str], *, lookback_seconds: float = 0
    ) -> Iterator[list[CrmRecord]]:
        settings = object_settings(obj)
        reader = ChangeReader(self.client, obj, settings.modified_property, list(fields) or list(settings.default_properties),
                              self.options.page_size)
        anchor = None if since is None else utc(since) - timedelta(seconds=lookback_seconds)
        return reader.pages(anchor)

    def fetch(self, obj: str, crm_id: str, fields: Sequence[str]) -> CrmRecord | None:
        """GET /crm/v3/objects/OBJ/ID?properties=...: one call; a 404 (no such live record) is None."""
        settings = object_settings(obj)
        properties = list(dict.fromkeys([RECORD_ID, settings.modified_property, *(fields or settings.default_properties)]))
        api = self.client.api("crm.objects.basic_api")
        try:
            data = self.client.call_json(api.get_by_id_with_http_info, obj, crm_id, properties=properties)
        except FatalError as refused:
            if refused.status == 404:
                return None
            raise
        return crm_record(data, settings.modified_property)

    def read_deleted(self, obj: str, since: datetime) -> DeletedRecords:
        """Archived records (HubSpot keeps them 90 days) whose archivedAt is at or after `since`."""
        since = utc(since)
        earliest = self.clock.now() - timedelta(days=ARCHIVE_RETENTION_DAYS)
        api = self.client.api("crm.objects.basic_api")
        found: list[tuple[str, datetime]] = []
        after: str | None = None
        while True:
            data, _, _ = self.client.call(api.get_page_with_http_info, obj, limit=LIST_PAGE_LIMIT, after=after,
                                          properties=[RECORD_ID], archived=True)
            for result in data.results or []:
                archived_at = utc(result.archived_at or result.updated_at)
                if archived_at >= since:
                    found.append((str(result.id), archived_at))
            after = data.paging.next.after if data.paging and data.paging.next else None
            if after is None:
                break
        found.sort(key=lambda item: item[1])
        return DeletedRecords(ids=found, complete=since >= earliest, earliest_available=earliest)

    def upsert(self, obj: str, external_id_field: str, records: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        return self._writer.upsert(obj, external_id_field, records)

    def update(self, obj: str, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        return self._writer.update(obj, records)

    def delete(self, obj: str, ids: Sequence[str]) -> list[WriteResult]:
        return self._writer.archive(obj, ids)

    def associate(self, from_obj: str, from_id: str, to_obj: str, to_ids: Sequence[str]) -> list[WriteResult]:
        """Link record `from_id` to each of `to_ids` (HubSpot's default association type for the pair):
        one result per target, keyed by the target id."""
        return self._associations.associate(from_obj, from_id, to_obj, to_ids)

    def owner_ids(self, emails: Sequence[str]) -> dict[str, str]:
        """HubSpot owners by email (`GET /crm/v3/owners?email=`), one call per email."""
        api = self.client.api("crm.owners.owners_api")
        found: dict[str, str] = {}
        for email in dict.fromkeys(e.strip().lower() for e in emails):
            data, _, _ = self.client.call(api.get_page_with_http_info, email=email, limit=1)
            for owner in data.results or []:
                if (owner.email or "").lower() == email:
                    found[email] = str(owner.id)
        return found

    def read_associations(self, from_obj: str, ids: Sequence[str], to_obj: str) -> dict[str, list[str]]:
        """For each of `ids`, the ids of the `to_obj` records linked to it."""
        return self._associations.read(from_obj, ids, to_obj)

    def api_usage(self) -> ApiUsage:
        reported = self.client.limiter.usage()
        daily, remaining = reported.get("daily"), reported.get("daily_remaining")
        return ApiUsage(
            used=None if daily is None or remaining is None else daily - remaining,
            limit=daily,
            calls_made=self.client.calls,
            window="day",
            details={
                **{f"reported_{k}": v for k, v in reported.items()},
                "refreshes": self.client.refreshes,
                "unauthorized": self.client.unauthorized,
            },
        )

    def close(self) -> None:
        self.client.close()
