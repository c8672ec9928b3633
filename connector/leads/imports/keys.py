"""Matching rows to stored prospects on the chosen key (none, email, external id) and refusing
the rows a key forbids (a repeat, an ambiguous or unknown key)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.leads.imports.columns import EMAIL, EXTERNAL_ID
from connector.leads.imports.rows import ImportRow
from connector.store.bindings import Binding
from connector.store.records import Prospect


class KeyProblem(Exception):
    """A row's key forbids it (a repeat, an ambiguous or unknown key)."""

    def __init__(self, field_name: str, value: str, problem: str):
        super().__init__(problem)
        self.field_name, self.value, self.problem = field_name, value, problem


class KeyIndex:
    """Matches rows to stored prospects on the chosen key, and remembers the keys already in the file."""

    def __init__(self, update_on: str | None):
        self.update_on = update_on
        self.seen: dict[str, tuple[int, int | None]] = {}
        """key -> (the first row with it, the prospect it wrote; None on a dry run)."""
        self.stored: dict[str, list[int]] = {}

    def key(self, row: ImportRow) -> str:
        return (row.external_id or "") if self.update_on == "external-id" else row.email.lower()

    def prefetch(self, session: Session, rows: Sequence[ImportRow]) -> None:
        """Read the stored prospects the chunk's keys name, in one query."""
        keys = {self.key(row) for row in rows} - {""}
        found: dict[str, set[int]] = {}
        if self.update_on == "external-id":
            query = select(Binding.crm_id, Binding.record_id).where(Binding.module == "prospect",
                                                                   Binding.crm_id.in_(keys))
        else:
            query = select(func.lower(Prospect.email), Prospect.id).where(
                func.lower(Prospect.email).in_(keys), Prospect.archived_at.is_(None))
        for key, prospect_id in session.execute(query):
            found.setdefault(key, set()).add(prospect_id)
        self.stored = {key: sorted(ids) for key, ids in found.items()}

    def match(self, row: ImportRow) -> tuple[bool, int | None]:
        """(whether the row updates a prospect, that prospect's id when known). Raises KeyProblem
        when the key forbids the row."""
        key = self.key(row)
        if self.update_on == "external-id" and not key:
            raise KeyProblem(EXTERNAL_ID, "", "a value is required to update on the external id")
        field_name, value = (EXTERNAL_ID, key) if self.update_on == "external-id" else (EMAIL, row.email)
        if key in self.seen:
            first_row, prospect_id = self.seen[key]
            if self.update_on is None:
                raise KeyProblem(field_name, value, f"repeats row {first_row} (use --update-on email to update)")
            return True, prospect_id
        stored = self.stored.get(key, [])
        if len(stored) > 1:
            raise KeyProblem(field_name, value, f"matches {len(stored)} prospects ({', '.join(map(str, stored))})")
        if self.update_on is None and stored:
            raise KeyProblem(field_name, value, f"already exists (prospect {stored[0]}); use --update-on email to "
                                               "update it")
        if self.update_on == "external-id" and not stored:
            raise KeyProblem(field_name, value, "is no prospect's CRM id")
        return bool(stored), stored[0] if stored else None

    def remember(self, row: ImportRow, prospect_id: int | None) -> None:
        self.seen.setdefault(self.key(row), (row.number, prospect_id))
