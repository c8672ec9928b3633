"""Reads: changed rows by `modifiedon` (ordered, paged by `@odata.nextLink`), change tracking's
delta feed, and deletes from the audit log."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.adapters.base import CrmRecord, FatalError

from .client import DataverseClient
from .records import crm_record, odata_instant, parse_instant, quoted
from .settings import MODIFIED

DELETE_ACTION = 3


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
        for body in self._pages(url, params, prefer):
            changed, removed = [], []
            for row in body.get("value", []):
                if "$deletedEntity" in str(row.get("@odata.context", "")):
                    removed.append(str(row["id"]))
                else:
                    changed.append(crm_record(row, primary_id))
            yield DeltaPage(changed, removed, body.get("@odata.deltaLink"))

    def deleted(self, logical_name: str, since: datetime) -> list[tuple[str, datetime]]:
        """Rows of `logical_name` deleted at or after `since`, from the audit log (action 3)."""
        params = {"$select": "_objectid_value,createdon",
                  "$filter": f"action eq {DELETE_ACTION} and objecttypecode eq {quoted(logical_name)} "
                             f"and createdon ge {odata_instant(since)}",
                  "$orderby": "createdon asc"}
        found: list[tuple[str, datetime]] = []
        for body in self._pages(self.client.url("audits"), params, f"odata.maxpagesize={self.page_size}"):
            found += [(str(row["_objectid_value"]), parse_instant(row["createdon"])) for row in body.get("value", [])]
        return found
