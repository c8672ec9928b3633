"""Collection reads: `$filter`/`$orderby`/`$select` with `@odata.nextLink` paging (the skip token
carries the last row's sort values, so rows written meanwhile shift nothing), and change tracking:
`Prefer: odata.track-changes` answers with an `@odata.deltaLink` whose `$deltatoken` is
`{version}!{MM/dd/yyyy HH:mm:ss}`; reading it yields the rows changed since, then the removed ones
as `$deletedEntity`; a token older than the store's change-tracking retention is refused
(ExpiredVersionStamp). Each query's sorted result is kept as a server-side cursor (`cursors`) while
no write lands, so a page costs O(page), not a pass over the table."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from .cursors import Result
from .errors import EXPIRED_VERSION_STAMP, DataverseError, bad_request
from .odata import Preferences, format_instant, parse_filter, parse_orderby, parse_select
from .store import AUDIT_COLUMNS, Store
from .schema import table_for_set

API = "/api/data/v9.2"
UNSUPPORTED_WITH_TRACKING = ("$filter", "$orderby", "$expand", "$top")


def _encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _decode(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise bad_request(f"Invalid $skiptoken '{token}'.") from None


def _sortable(value: Any) -> Any:
    if isinstance(value, datetime):
        return (1, value.isoformat())
    if value is None:
        return (0, "")
    return (1, value)


def _json_value(value: Any) -> Any:
    return format_instant(value) if isinstance(value, datetime) else value


def render(row: Mapping[str, Any], select: Sequence[str] | None, primary: str) -> dict[str, Any]:
    """A row as the Web API answers it: its etag, the selected columns (all when none) and its id."""
    names = list(dict.fromkeys([*(select or [k for k in row if k != primary]), primary]))
    return {"@odata.etag": f'W/"{row["versionnumber"]}"', **{name: _json_value(row.get(name)) for name in names}}


class Collection:
    """One entity set's rows as a query sees them."""

    def __init__(self, store: Store, entity_set: str):
        if entity_set == "audits":
            self.entity, self.primary, self.columns = "audit", "auditid", set(AUDIT_COLUMNS)
            self.rows: Iterable[dict[str, Any]] = store.audits
            self.removed: list[tuple[int, str]] = []
            return
        table = table_for_set(entity_set)
        if table is None:
            raise bad_request(f"Resource not found for the segment '{entity_set}'.", "0x80060888")
        self.entity, self.primary = table.logical_name, table.primary_id
        self.columns = set(table.attribute_types())
        rows = store.rows(table.logical_name)
        self.rows = rows.rows.values()
        self.removed = rows.removed


def read(store: Store, base_url: str, entity_set: str, params: Mapping[str, str], prefs: Preferences) -> dict[str, Any]:
    """The answer body of `GET {entity_set}?{params}`."""
    collection = Collection(store, entity_set)
    select = parse_select(params.get("$select"), collection.columns, collection.entity)
    if prefs.track_changes or "$deltatoken" in params:
        refused = next((name for name in UNSUPPORTED_WITH_TRACKING if name in params), None)
        if refused:
            raise bad_request(f'The "{refused}" query parameter isn\'t supported when Change Tracking is enabled.')
        return _changes(store, base_url, entity_set, collection, select, params, prefs)
    order = parse_orderby(params.get("$orderby"), collection.columns, collection.entity)
    order.append((collection.primary, False))

    def key(row: Mapping[str, Any]) -> list[Any]:
        return [_sortable(row.get(name)) for name, _ in order]

    def build() -> Result:
        predicate = parse_filter(params["$filter"], collection.columns, collection.entity) if params.get("$filter") else None
        rows = [row for row in collection.rows if predicate is None or predicate(row)]
        for name, descending in reversed(order):
            rows.sort(key=lambda row: _sortable(row.get(name)), reverse=descending)
        return Result([key(row) for row in rows], rows)

    query = ("query", entity_set, params.get("$filter"), params.get("$orderby"))
    result = store.cursors.result(query, store.version, build)
    start = 0
    if "$skiptoken" in params:
        last = [tuple(part) for part in _decode(params["$skiptoken"])]
        start = result.after(lambda values: _after(values, last, order))
    top = int(params["$top"]) if params.get("$top") else None
    size = min(prefs.max_page_size, top) if top else prefs.max_page_size
    page, more = result.rows[start:start + size], len(result.rows) - start > size and top is None
    body: dict[str, Any] = {"@odata.context": _context(base_url, entity_set, select),
                            "value": [render(row, select, collection.primary) for row in page]}
    if more:
        following = {k: v for k, v in params.items() if k != "$skiptoken"}
        following["$skiptoken"] = _encode([list(part) for part in result.keys[start + size - 1]])
        body["@odata.nextLink"] = f"{base_url}{API}/{entity_set}?{urlencode(following, quote_via=quote)}"
    return body


def _after(values: list[Any], last: list[tuple[Any, ...]], order: list[tuple[str, bool]]) -> bool:
    for value, previous, (_, descending) in zip(values, last, order):
        if tuple(value) == previous:
            continue
        return (tuple(value) < previous) if descending else (tuple(value) > previous)
    return False


def _context(base_url: str, entity_set: str, select: Sequence[str] | None, suffix: str = "") -> str:
    shape = f"({','.join(select)})" if select else ""
    return f"{base_url}{API}/$metadata#{entity_set}{shape}{suffix}"


def delta_token(version: int, at: datetime) -> str:
    return f"{version}!{at.strftime('%m/%d/%Y %H:%M:%S')}"


def _token_version(store: Store, token: str) -> int:
    """The version a delta token was issued at; refused when it is past the change-tracking retention."""
    version, _, issued = token.partition("!")
    try:
        number = int(version)
        at = datetime.strptime(issued, "%m/%d/%Y %H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        raise bad_request(f"The delta token '{token}' is not valid.", EXPIRED_VERSION_STAMP) from None
    if at < store.now() - store.retention:
        raise DataverseError(400, EXPIRED_VERSION_STAMP,
                             "Version stamp associated with the client has expired. Please perform a full sync.")
    return number


_PHASES = {"live": 0, "deleted": 1}


def _changes(store: Store, base_url: str, entity_set: str, collection: Collection, select: list[str] | None,
             params: Mapping[str, str], prefs: Preferences) -> dict[str, Any]:
    """Rows changed in (since, upto], then rows removed in it; paged by skip token."""
    if "$skiptoken" in params:
        since, upto, phase, after = _decode(params["$skiptoken"])
    else:
        since = _token_version(store, params["$deltatoken"]) if "$deltatoken" in params else 0
        upto, phase, after = store.version, "live", since

    def build() -> Result:
        live = sorted((row for row in collection.rows if since < row["versionnumber"] <= upto),
                      key=lambda row: row["versionnumber"])
        items: list[tuple[str, int, Any]] = [("live", row["versionnumber"], row) for row in live]
        if since > 0:
            items += [("deleted", version, record_id) for version, record_id in collection.removed if since < version <= upto]
        return Result([(_PHASES[kind], version) for kind, version, _ in items], items)

    result = store.cursors.result(("delta", entity_set, since, upto), store.version, build)
    start = result.after(lambda item: item > (_PHASES[phase], after)) if "$skiptoken" in params else 0
    items = result.rows[start:]
    page = items[: prefs.max_page_size]
    value: list[dict[str, Any]] = []
    for kind, _, item in page:
        if kind == "live":
            value.append(render(item, select, collection.primary))
        else:
            value.append({"@odata.context": f"{base_url}{API}/$metadata#{entity_set}/$deletedEntity",
                          "id": item, "reason": "deleted"})
    body: dict[str, Any] = {"@odata.context": _context(base_url, entity_set, select, "/$delta" if since else ""),
                            "value": value}
    keep = {k: v for k, v in params.items() if k in ("$select",)}
    if len(items) > len(page):
        kind, version, _ = page[-1]
        keep["$skiptoken"] = _encode([since, upto, kind, version])
        body["@odata.nextLink"] = f"{base_url}{API}/{entity_set}?{urlencode(keep, quote_via=quote)}"
    else:
        keep["$deltatoken"] = delta_token(upto, store.now())
        body["@odata.deltaLink"] = f"{base_url}{API}/{entity_set}?{urlencode(keep, quote_via=quote)}"
    return body
