"""Records deleted since a point, in one API call: a /composite request carrying
- getDeleted (`sobjects/X/deleted/`), the delete log: its `earliestDateAvailable` says whether the log
  still reaches back to `since` (Salesforce keeps 15 days, and an emptied recycle bin moves it later:
  then the caller must reconcile in full), and
- a queryAll of the recycle bin (`IsDeleted = true AND SystemModstamp >= since`), exact to the second,
  where getDeleted works in whole minutes up to the last complete one.
The ids are the union of both, each with its deletion time, ascending.

getDeleted refuses a window whose start does not precede its end by more than one minute, so a read
that soon after the last one is skipped (no call; the next read starts from the same point). The
next start is the log's `latestDateCovered`. A log purged past `since` answers INVALID_REPLICATION_DATE
to a valid window: that leaves as NeedsFullResync.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from connector.adapters.base import DeletedRecords, NeedsFullResync

from .changes import follow
from .client import SalesforceClient
from .composite import Composite, Subrequest
from .records import parse_datetime, utc
from .soql import api_name, deleted_query


MIN_WINDOW = timedelta(minutes=1)
"""getDeleted's start must precede its end by more than this."""
PURGED = "INVALID_REPLICATION_DATE"


def read_deleted(client: SalesforceClient, obj: str, since: datetime, now: datetime) -> DeletedRecords:
    """Deletions since `since` (see the module docstring)."""
    since, now = utc(since).replace(microsecond=0), utc(now).replace(microsecond=0)
    if now - since <= MIN_WINDOW:
        return DeletedRecords(ids=[], complete=True, covered_until=since)
    window = {"start": since.isoformat(), "end": now.isoformat()}
    log, recycle_bin = Composite(client).run([
        Subrequest("GET", f"sobjects/{api_name(obj)}/deleted/?{urlencode(window)}"),
        Subrequest("GET", "queryAll/?" + urlencode({"q": deleted_query(obj, since)})),
    ])
    if log.error is not None and log.error.code == PURGED:
        raise NeedsFullResync(
            f"the {obj} delete log no longer reaches back to {since.isoformat()}: {log.error}", code=PURGED, status=400
        )
    for answer in (log, recycle_bin):
        if answer.error is not None:
            raise answer.error
    found: dict[str, datetime] = {}
    for entry in log.body.get("deletedRecords") or []:
        deleted_at = parse_datetime(entry["deletedDate"])
        if deleted_at >= since:
            found[str(entry["id"])] = deleted_at
    for rows in follow(client, recycle_bin.body, {}):
        for row in rows:
            found.setdefault(str(row["Id"]), parse_datetime(row["SystemModstamp"]))
    earliest = parse_datetime(log.body["earliestDateAvailable"])
    return DeletedRecords(
        ids=sorted(found.items(), key=lambda item: (item[1], item[0])),
        complete=earliest <= since,
        earliest_available=earliest,
        covered_until=parse_datetime(log.body["latestDateCovered"]),
    )
