"""Records deleted since a point, in one API call: a /composite request carrying
- getDeleted (`sobjects/X/deleted/`), the delete log: its `earliestDateAvailable` says whether the log
  still reaches back to `since` (Salesforce keeps 15 days, and an emptied recycle bin moves it later:
  then the caller must reconcile in full), and
- a queryAll of the recycle bin (`IsDeleted = true AND SystemModstamp >= since`), exact to the second,
  where getDeleted works in whole minutes up to the last complete one.
The ids are the union of both, each with its deletion time, ascending.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from connector.adapters.base import DeletedRecords

from .changes import follow
from .client import SalesforceClient
from .composite import Composite, Subrequest
from .records import parse_datetime, utc
from .soql import api_name, deleted_query


def read_deleted(client: SalesforceClient, obj: str, since: datetime, now: datetime) -> DeletedRecords:
    since, now = utc(since).replace(microsecond=0), utc(now).replace(microsecond=0)
    window = {"start": min(since, now).isoformat(), "end": now.isoformat()}
    log, recycle_bin = Composite(client).run([
        Subrequest("GET", f"sobjects/{api_name(obj)}/deleted/?{urlencode(window)}"),
        Subrequest("GET", "queryAll/?" + urlencode({"q": deleted_query(obj, since)})),
    ])
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
    )
