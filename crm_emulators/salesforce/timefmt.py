"""Salesforce's date and time formats.

REST responses write datetimes as `2011-07-07T00:37:00.000+0000` (UTC, whole seconds: Salesforce keeps no
milliseconds); Bulk API 2.0 CSV writes them as `2011-07-07T00:37:00.000Z`. Stored values use the REST form,
whose fixed width makes string order the same as time order.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?P<fraction>\.\d+)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)


def format_datetime(moment: datetime) -> str:
    """`2011-07-07T00:37:00.000+0000` for an aware datetime (truncated to the second)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".000+0000"


def parse_datetime(text: str) -> datetime:
    """An aware UTC datetime from the ISO 8601 forms clients send (`Z`, `+00:00`, `+0000`, no zone = UTC).

    Raises ValueError when `text` is not such a datetime.
    """
    match = _DATETIME.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a datetime: {text!r}")
    moment = datetime.fromisoformat(f"{match['date']}T{match['time']}").replace(tzinfo=timezone.utc)
    zone = match["zone"]
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def normalize_datetime(text: str) -> str:
    """Any accepted datetime text in the stored REST form."""
    return format_datetime(parse_datetime(text))


def normalize_date(text: str) -> str:
    """`YYYY-MM-DD`; raises ValueError for anything else."""
    return date.fromisoformat(text.strip()).isoformat()


def bulk_datetime(stored: str) -> str:
    """A stored datetime as Bulk API 2.0 writes it in CSV: `2011-07-07T00:37:00.000Z`."""
    return stored[:19] + ".000Z"


def floor_minute(moment: datetime) -> datetime:
    """`moment` rounded down to the minute (getUpdated/getDeleted work in whole minutes)."""
    return moment.replace(second=0, microsecond=0)
