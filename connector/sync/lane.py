"""What every step of a sync run for one connection shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from connector.adapters.base import CrmAdapter
from connector.clock import Clock
from connector.mapping.loader import LoadedProfile
from connector.mapping.mapper import Mapper
from connector.mapping.profile import ObjectMap
from connector.store.database import Database
from connector.sync.outbox import OutboxRouter
from connector.sync.scope import PartnerScope

Progress = Callable[[str, int, "int | None"], None]
"""Told after each page read or batch sent: the step ("pull contact"), how many records, and the
step's total when known (pushes: the outbox's pending records; pulls: None, the CRMs give none up
front)."""


def no_progress(step: str, records: int, total: int | None) -> None:
    """The Progress of a run nobody watches."""


NewProspects = Callable[[Session, list[Any]], None]
"""Told of the prospects a complete-mode pull has just created, inside its transaction (the lead
layer distributes them)."""


@dataclass
class Lane:
    """One connection's run: its adapter, profile, mappers, and when the run started."""

    connection: str
    db: Database
    adapter: CrmAdapter
    loaded: LoadedProfile
    clock: Clock
    started_at: datetime
    outbox: OutboxRouter | None = None
    """Routes records written by bulk INSERT (which no flush hook sees) to the other connections."""
    on_new_prospects: NewProspects = lambda session, prospects: None
    scope: PartnerScope | None = None
    """A partner connection's: what it may receive, and whom what it brings in belongs to."""
    dry_run: bool = False
    should_stop: Callable[[], bool] = lambda: False
    progress: Progress = no_progress
    mappers: dict[str, Mapper] = field(default_factory=dict)
    owners: dict[str, str | None] = field(default_factory=dict)
    """The CRM's owner id per rep email, asked once a run (None: no CRM user has that email)."""

    def owner_id(self, email: str | None) -> str | None:
        """The CRM user (owner) whose email this is."""
        if not email:
            return None
        email = email.strip().lower()
        if email not in self.owners:
            self.owners[email] = self.adapter.owner_ids([email]).get(email)
        return self.owners[email]

    @property
    def profile(self):  # type: ignore[no-untyped-def]
        return self.loaded.profile

    def mapper(self, obj: ObjectMap) -> Mapper:
        if obj.module not in self.mappers:
            self.mappers[obj.module] = Mapper(obj)
        return self.mappers[obj.module]

    def objects(self, only: str | None = None) -> list[ObjectMap]:
        """The profile's objects in dependency order (as listed), or the one asked for."""
        chosen = [o for o in self.profile.objects if only is None or only in (o.module, o.crm_object)]
        if only is not None and not chosen:
            names = ", ".join(f"{o.module} ({o.crm_object})" for o in self.profile.objects)
            raise ValueError(f"the profile has no object '{only}'; it maps: {names}")
        return chosen
