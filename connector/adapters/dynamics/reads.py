"""Reads: changed rows by `modifiedon` (ordered, paged by `@odata.nextLink`), and change tracking's
delta feed (the deletes, by delta link)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.adapters.base import CrmRecord, FatalError, NeedsFullResync

from .client import DataverseClient
from .records import crm_record, odata_instant
from .settings import MODIFIED

EXPIRED_VERSION_STAMP = "0x80044352"
"""Dataverse's ExpiredVersionStamp: the delta token is older than the change-tracking retention
(or not one it issued); only a full sync finds what changed since."""


@dataclass(frozen=True)
class DeltaPage:
    """One page of a change-tracking feed: rows new or changed, ids removed, and (on the last page)
    the delta link that reads the changes after it."""

    changed: list[CrmRecord]
    removed: list[str]
    delta_link: str | None


class Reader:
    def __init__(self, client: DataverseClient, page_size: int):
        self.client = client
        self.page_size = page_size

    def _pages(self, url: str, params: dict[str, str] | None, prefer: str) -> Iterator[dict[str, Any]]:
        next_url: str | None = url
        while next_url is not None:
            body = self.client.request("GET", next_url, params=params, headers={"Prefer": prefer}).json()
            params = None  # the next link carries the query
            yield body
            next_url = body.get("@odata.nextLink")

    def changes(self, entity_set: str, primary_id: str, since: datetime | None, fields: Sequence[str]) -> Iterator[list[CrmRecord]]:
        """Rows modified at or after `since` (all when None), ascending by (modifiedon, id)."""
        select = ",".join(dict.fromkeys([primary_id, MODIFIED, *fields]))
        params = {"$select": select, "$orderby": f"{MODIFIED} asc,{primary_id} asc"}
        if since is not None:
            params["$filter"] = f"{MODIFIED} ge {odata_instant(since)}"
        for body in self._pages(self.client.url(entity_set), params, f"odata.maxpagesize={self.page_size}"):
            page = [crm_record(row, primary_id) for row in body.get("value", [])]
            if page:
                yield page

    def one(self, entity_set: str, primary_id: str, record_id: str, fields: Sequence[str]) -> CrmRecord | None:
        """GET entityset(id)?$select=...: one call; a 404 (no such row) is None."""
        select = ",".join(dict.fromkeys([primary_id, MODIFIED, *fields]))
        try:
            row = self.client.request("GET", self.client.url(f"{entity_set}({record_id})"), params={"$select": select}).json()
        except FatalError as refused:
            if refused.status == 404:
                return None
            raise
        return crm_record(row, primary_id)

    def delta(self, entity_set: str, primary_id: str, fields: Sequence[str], delta_link: str | None) -> Iterator[DeltaPage]:
        """The change-tracking feed: every row and a delta link (delta_link None), or the changes and
        removals since `delta_link`."""
        if delta_link is None:
            url, params = self.client.url(entity_set), {"$select": ",".join(dict.fromkeys([primary_id, MODIFIED, *fields]))}
        else:
            url, params = delta_link, None
        prefer = f"odata.track-changes,odata.maxpagesize={self.page_size}"
        for body in self._tracked(url, params, prefer, delta_link is not None):
            changed, removed = [], []
            for row in body.get("value", []):
                if "$deletedEntity" in str(row.get("@odata.context", "")):
                    removed.append(str(row["id"]))
                else:
                    changed.append(crm_record(row, primary_id))
            yield DeltaPage(changed, removed, body.get("@odata.deltaLink"))

    def _tracked(self, url: str, params: dict[str, str] | None, prefer: str, from_link: bool) -> Iterator[dict[str, Any]]:
        """`_pages` of a change-tracking read; a delta link refused as expired is NeedsFullResync."""
        try:
            yield from self._pages(url, params, prefer)
        except FatalError as refused:
            if from_link and refused.code == EXPIRED_VERSION_STAMP:
                raise NeedsFullResync(f"Dataverse refused the delta link as expired: {refused}", code=refused.code,
                                      status=refused.status) from None
            raise
