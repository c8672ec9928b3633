"""Checking one row against the template, the lead settings and the partner directory: its
Prospect values, its key, and whom its RecordAssignTo names (through connector.leads.targets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from connector.config.settings import LeadSettings
from connector.leads import targets
from connector.leads.errors import InvalidRule
from connector.leads.imports.columns import (ACCESS_LEVEL, ACCESS_TYPE, ASSIGN_TO, CAMPAIGN, EMAIL, EXTERNAL_ID, SEGMENT,
                                             Column)
from connector.leads.imports.report import RowError
from connector.leads.imports.text import Invalid, cell_text, fold
from connector.store.database import Database
from connector.store.records import Campaign


@dataclass(frozen=True)
class Assignee:
    """Who a row's RecordAssignTo names."""

    kind: str  # user, group, account
    id: int
    label: str
    access_type: str


@dataclass
class ImportRow:
    """A valid row: the Prospect attributes it sets, its key and its assignee."""

    number: int
    values: dict[str, Any]
    email: str
    external_id: str | None
    assignee: Assignee | None


class Campaigns:
    """Campaigns by the name or CRM campaign id a file uses, read once per import."""

    def __init__(self, db: Database):
        self.ids: dict[str, int] = {}
        with db.session() as session:
            for campaign_id, name, crm_id in session.execute(
                    select(Campaign.id, Campaign.name, Campaign.crm_campaign_id).where(Campaign.archived_at.is_(None))):
                self.ids.setdefault(fold(name), campaign_id)
                if crm_id:
                    self.ids.setdefault(crm_id.strip().lower(), campaign_id)

    def __call__(self, value: str) -> int:
        found = self.ids.get(value.strip().lower()) or self.ids.get(fold(value))
        if found is None:
            raise Invalid("is not a campaign's name or CRM campaign id")
        return found


_ASSIGNEE_KINDS = {"group": "group", "user": "user", "account": "account"}
_ACCESS_LEVELS = {"readonly": "Read-Only", "readwrite": "Read-Write"}


class RowChecker:
    """Validates one row against the template, the lead settings and the directory."""

    def __init__(self, columns: dict[int, Column], db: Database, lead_settings: LeadSettings):
        self.columns = columns
        self.db = db
        self.default_access = lead_settings.default_access_type
        self.segments = {fold(s): s for s in lead_settings.segment_sla_days}
        self.targets: dict[tuple[str | None, str], targets.Target | InvalidRule] = {}
        """(kind, folded name) -> the target, or why there is none: each name is resolved once."""
        lookups = {SEGMENT: self.segment, CAMPAIGN: Campaigns(db)}
        self.parsers = {index: lookups.get(column.header, column.parse) for index, column in columns.items()}

    def segment(self, value: str) -> str:
        """The configured segment the cell names (any case or spacing)."""
        found = self.segments.get(fold(value))
        if found is None:
            raise Invalid(f"is not one of {', '.join(self.segments.values())}")
        return found

    def check(self, number: int, cells: Sequence[object]) -> tuple[ImportRow | None, list[RowError]]:
        """The row's values, or None with every problem found in it."""
        errors: list[RowError] = []
        values: dict[str, Any] = {}
        control: dict[str, str] = {}
        for index, column in self.columns.items():
            text = cell_text(cells[index]) if index < len(cells) else None
            if text is None:
                continue
            try:
                parsed = self.parsers[index](text)
            except Invalid as exc:
                errors.append(RowError(number, column.header, text, f"{column.header}: '{text}' {exc}"))
                continue
            if column.attribute is None:
                control[column.header] = parsed
            else:
                values[column.attribute] = parsed
        if "email" not in values and not any(e.field == EMAIL for e in errors):
            errors.append(RowError(number, EMAIL, "", f"{EMAIL}: a value is required"))
        assignee = self._assignee(number, control, errors)
        if errors:
            return None, errors
        return ImportRow(number, values, values["email"], control.get(EXTERNAL_ID), assignee), []

    def _assignee(self, number: int, control: dict[str, str], errors: list[RowError]) -> Assignee | None:
        target, kind_text, level_text = control.get(ASSIGN_TO), control.get(ACCESS_TYPE), control.get(ACCESS_LEVEL)
        access = self.default_access
        if level_text is not None:
            access = _ACCESS_LEVELS.get(fold(level_text), "")
            if not access:
                errors.append(RowError(number, ACCESS_LEVEL, level_text,
                                       f"{ACCESS_LEVEL}: '{level_text}' is not Read-Only or Read-Write"))
        kind = None
        if kind_text is not None:
            kind = _ASSIGNEE_KINDS.get(fold(kind_text))
            if kind is None:
                hint = (" - that is an access level: put it in an 'Access Level' column"
                        if fold(kind_text) in _ACCESS_LEVELS else "")
                errors.append(RowError(number, ACCESS_TYPE, kind_text,
                                       f"{ACCESS_TYPE}: '{kind_text}' is not Group, User or Account{hint}"))
                return None
        if target is None:
            if kind_text is not None:
                errors.append(RowError(number, ACCESS_TYPE, kind_text,
                                       f"{ACCESS_TYPE}: '{kind_text}' is given without a {ASSIGN_TO}"))
            return None
        try:
            kind, assignee_id = self._resolve(target, kind)
        except Invalid as exc:
            errors.append(RowError(number, ASSIGN_TO, target, f"{ASSIGN_TO}: {exc}"))
            return None
        return Assignee(kind, assignee_id, target, access)

    def _resolve(self, target: str, kind: str | None) -> tuple[str, int]:
        """The usable partner `target` names, as (kind, id); Invalid saying why there is none."""
        key = (kind, target.strip().casefold())
        if key not in self.targets:
            try:
                with self.db.session() as session:
                    self.targets[key] = targets.find(session, kind, target, ids=False, usable=True)
            except InvalidRule as exc:
                self.targets[key] = exc
        found = self.targets[key]
        if isinstance(found, InvalidRule):
            raise Invalid(str(found))
        return found.kind, found.id
