"""Each connection's CRM describe, kept in the state dir so `mappings check` can check field names
when the CRM cannot be reached: written after a successful online check or sync, read (saying so,
with its age) when the CRM does not answer or with `--offline`.

One JSON file per connection: `STATE_DIR/describe/CONNECTION.json` with the CRM's name, when it
was read, and each described object's fields.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from connector.adapters.base import FieldInfo, ObjectDescription
from connector.config.settings import Settings
from connector.mapping.loader import Describe

log = logging.getLogger(__name__)

REFRESH_AFTER = timedelta(days=1)
"""A sync re-reads a connection's describe for the cache when the cached one is older than this."""


def state_dir(settings: Settings) -> Path:
    """`daemon.state_dir` (relative to the config), else systemd's `$STATE_DIRECTORY`, else `.upm-state`
    beside the config."""
    if settings.daemon.state_dir is not None:
        return settings.resolve_path(settings.daemon.state_dir)
    systemd = os.environ.get("STATE_DIRECTORY")
    if systemd:
        return Path(systemd.split(":")[0])
    return settings.resolve_path(Path(".upm-state"))


@dataclass(frozen=True)
class CachedDescribe:
    """A connection's describe as cached: its CRM, when it was read, and the objects described."""

    crm: str
    read_at: datetime
    objects: dict[str, ObjectDescription]

    def describe(self, obj: str) -> ObjectDescription:
        """The cached description of `obj` (a Describe); KeyError naming what is cached when absent."""
        if obj not in self.objects:
            raise KeyError(f"{obj} is not in the cached describe (cached: {', '.join(sorted(self.objects)) or 'none'})")
        return self.objects[obj]

    def age(self, now: datetime) -> str:
        """How old the cache is, in words: `3d 4h`, `2h 5m`, `7m`."""
        minutes = max(0, int((now - self.read_at).total_seconds() // 60))
        days, rest = divmod(minutes, 24 * 60)
        hours, mins = divmod(rest, 60)
        if days:
            return f"{days}d {hours}h"
        return f"{hours}h {mins}m" if hours else f"{mins}m"


class DescribeCache:
    """The cached describes in a state dir."""

    def __init__(self, directory: Path):
        self.directory = directory / "describe"

    @classmethod
    def of(cls, settings: Settings) -> DescribeCache:
        return cls(state_dir(settings))

    def path(self, connection: str) -> Path:
        return self.directory / f"{connection}.json"

    def save(self, connection: str, crm: str, objects: Iterable[ObjectDescription], read_at: datetime) -> bool:
        """Cache these descriptions (merged over the cached ones of other objects); False (logged)
        when the state dir cannot be written: a cache is never worth failing a command for."""
        cached = self.load(connection)
        merged = dict(cached.objects) if cached is not None and cached.crm == crm else {}
        merged.update({o.name: o for o in objects})
        body = {"crm": crm, "read_at": read_at.astimezone(timezone.utc).isoformat(),
                "objects": {name: {"name": o.name, "modified_field": o.modified_field,
                                   "fields": [asdict(f) for f in o.fields.values()]} for name, o in merged.items()}}
        target = self.path(connection)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".json.partial")
            partial.write_text(json.dumps(body, indent=1), encoding="utf-8")
            partial.replace(target)
        except OSError as exc:
            log.warning("describe of %s not cached: %s", connection, exc)
            return False
        return True

    def load(self, connection: str) -> CachedDescribe | None:
        """The cached describe, or None when there is none (or it cannot be read)."""
        try:
            body: dict[str, Any] = json.loads(self.path(connection).read_text(encoding="utf-8"))
            objects = {name: ObjectDescription(name=o["name"], modified_field=o["modified_field"],
                                               fields={f["name"]: FieldInfo(**f) for f in o["fields"]})
                       for name, o in body["objects"].items()}
            return CachedDescribe(str(body["crm"]), datetime.fromisoformat(body["read_at"]), objects)
        except (OSError, ValueError, KeyError, TypeError):
            return None


class Recording:
    """A Describe that remembers what it returned (to cache after a check that went through)."""

    def __init__(self, describe: Describe):
        self._describe = describe
        self.seen: list[ObjectDescription] = []

    def __call__(self, obj: str) -> ObjectDescription:
        description = self._describe(obj)
        self.seen.append(description)
        return description


def refresh(cache: DescribeCache, connection: str, crm: str, describe: Describe, objects: Iterable[str],
            now: datetime) -> bool:
    """After a sync: cache the objects' describe when none is cached or it is older than
    REFRESH_AFTER (one describe call per object, once a day at most). True when it was read."""
    cached = cache.load(connection)
    names = list(objects)
    if cached is not None and cached.crm == crm and now - cached.read_at < REFRESH_AFTER \
            and all(n in cached.objects for n in names):
        return False
    cache.save(connection, crm, [describe(n) for n in dict.fromkeys(names)], now)
    return True
