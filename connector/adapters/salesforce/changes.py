"""Incremental reads: one SOQL query ordered by (SystemModstamp, Id), followed page by page through
`nextRecordsUrl` (2,000 records a call at most: ceil(N/2000) calls for N records).

Each page is fetched only when the caller wants it, and only one query page is held at a time. Pages
smaller than Salesforce's minimum batch of 200 are cut from one query page. A page fetch that meets an
expired session refreshes the tokens and continues the same query locator with the new session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from simple_salesforce.api import Salesforce

from connector.adapters.base import CrmRecord

from .client import SalesforceClient
from .records import crm_record


def query_pages(client: SalesforceClient, soql: str, page_size: int, batch_size: int) -> Iterator[list[CrmRecord]]:
    """Pages of at most `page_size` records of the query `soql`, in its order (`batch_size` records a
    query page, 200-2000)."""
    headers = batch_size_header(batch_size)

    def first(sf: Salesforce) -> Any:
        return sf.query(soql, headers=headers)

    for rows in follow(client, client.call(first), headers):
        for start in range(0, len(rows), page_size):
            yield [crm_record(row) for row in rows[start:start + page_size]]
        del rows


def batch_size_header(batch_size: int) -> dict[str, str]:
    return {"Sforce-Query-Options": f"batchSize={batch_size}"}


def follow(client: SalesforceClient, result: Any, headers: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
    """The rows of a query result's first page, then of each page its `nextRecordsUrl` leads to (one
    page held at a time: a page is let go before the next is fetched)."""
    while True:
        rows: list[dict[str, Any]] = result.get("records") or []
        next_url = None if result.get("done", True) else result.get("nextRecordsUrl")
        del result
        yield rows
        del rows
        if not next_url:
            return

        def more(sf: Salesforce, next_url: str = next_url) -> Any:
            return sf.query_more(next_url, identifier_is_url=True, headers=headers)

        result = client.call(more)
