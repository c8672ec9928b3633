"""What a sync run did, counted the way operators read it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from connector.sync.merge import to_plain


@dataclass
class Counts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    failed: int = 0
    conflicts: int = 0
    pushed: int = 0
    api_calls: int = 0
    changes: list[str] = field(default_factory=list)
    """With --dry-run: one line per change that would be made."""
    objects: dict[str, Counts] = field(default_factory=dict)
    """A run's totals only: the counts of each object ("module <-> crm_object")."""

    def add(self, other: Counts) -> None:
        for f in fields(self):
            if f.name == "objects":
                continue
            if f.name == "changes":
                self.changes.extend(other.changes)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def line(self) -> str:
        return (
            f"read {self.read}, created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"archived {self.archived}, pushed {self.pushed}, failed {self.failed}, conflicts {self.conflicts}, "
            f"API calls {self.api_calls}"
        )


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    """`field old -> new` for each changed field, values as JSON (`title "CTO" -> "CIO", phone null -> "555"`)."""
    def shown(value: Any) -> str:
        return json.dumps(to_plain(value), ensure_ascii=False)
    return ", ".join(f"{name} {shown(old.get(name))} -> {shown(value)}" for name, value in sorted(new.items()))
