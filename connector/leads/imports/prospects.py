"""Writing an import: rows checked, written `CHUNK` per transaction (each row in its own
savepoint, so one bad row never loses the others), then assigned as RecordAssignTo says or
distributed by the rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from connector.clock import Clock
from connector.config.settings import LeadSettings
from connector.leads import lifecycle
from connector.leads.errors import InvalidTransition, LeadError
from connector.leads.imports.columns import ASSIGN_TO, EMAIL, EXTERNAL_ID, map_headers
from connector.leads.imports.keys import KeyIndex, KeyProblem
from connector.leads.imports.report import ImportReport, RowError
from connector.leads.imports.rows import ImportRow, RowChecker
from connector.leads.imports.table import ImportFileError, count_rows, open_table
from connector.leads.imports.text import cell_text
from connector.leads.service import LeadService
from connector.store.database import Database
from connector.store.records import Prospect

UPDATE_KEYS = ("email", "external-id")
CHUNK = 500
ACTOR = "import"


class ProspectImport:
    """One import run: checks and writes rows chunk by chunk, then places the new leads."""

    def __init__(self, db: Database, report: ImportReport, service: LeadService):
        self.db = db
        self.report = report
        self.keys = KeyIndex(report.update_on)
        self.service = service

    def load(self, rows: Sequence[ImportRow]) -> None:
        """Write a chunk (each row in its own savepoint), commit it, then assign or distribute it."""
        placements: list[tuple[ImportRow, int, bool]] = []
        with self.db.session() as session:
            self.keys.prefetch(session, rows)
            targets = [prospect_id for ids in self.keys.stored.values() for prospect_id in ids]
            list(session.scalars(select(Prospect).where(Prospect.id.in_(targets))))  # one read into the identity map
            for row in rows:
                try:
                    updates, prospect_id = self.keys.match(row)
                except KeyProblem as exc:
                    self.report.fail(RowError(row.number, exc.field_name, exc.value,
                                              f"{exc.field_name}: '{exc.value}' {exc.problem}"))
                    continue
                if self.report.dry_run:
                    self._count(row, updates, prospect_id)
                    continue
                try:
                    with session.begin_nested():
                        prospect = self._write(session, row, prospect_id)
                except SQLAlchemyError as exc:
                    cause = getattr(exc, "orig", None) or exc
                    self.report.fail(RowError(row.number, "(row)", "", f"not saved: {cause}"))
                    continue
                self._count(row, updates, prospect.id)
                placements.append((row, prospect.id, prospect.distribution_state == lifecycle.NEW))
        for row, prospect_id, undistributed in placements:
            self._place(row, prospect_id, undistributed)

    def _count(self, row: ImportRow, updates: bool, prospect_id: int | None) -> None:
        self.keys.remember(row, prospect_id)
        if updates:
            self.report.updated += 1
        else:
            self.report.created += 1
        if row.assignee is not None and self.report.dry_run:
            self.report.assigned += 1

    def _write(self, session: Session, row: ImportRow, prospect_id: int | None) -> Prospect:
        prospect = session.get(Prospect, prospect_id) if prospect_id is not None else None
        values = row.values
        if prospect is None:
            prospect = Prospect()
            session.add(prospect)
        elif self.keys.update_on == "email":  # the key matched case-insensitively: the stored spelling stays
            values = {name: value for name, value in values.items() if name != "email"}
        for attribute, value in values.items():
            setattr(prospect, attribute, value)
        session.flush()
        return prospect

    def _place(self, row: ImportRow, prospect_id: int, undistributed: bool) -> None:
        """Give the lead to its RecordAssignTo, or distribute it by the rules when it never was."""
        assignee = row.assignee
        try:
            if assignee is not None:
                self.service.assign(prospect_id, f"{assignee.kind}:{assignee.id}", access_type=assignee.access_type,
                                    reason=f"import {Path(self.report.source).name} row {row.number}", actor=ACTOR)
                self.report.assigned += 1
            elif undistributed:
                self.report.distributed[self.service.distribute(prospect_id, actor=ACTOR).state] += 1
        except LeadError as exc:
            if isinstance(exc, InvalidTransition) and assignee is None:
                return  # placed meanwhile by another process (the new-lead distribution lane)
            self.report.not_assigned += 1
            self.report.errors.append(RowError(row.number, ASSIGN_TO if assignee else "(distribution)",
                                               assignee.label if assignee else "",
                                               f"imported as prospect {prospect_id} but not assigned: {exc}"))


def import_prospects(db: Database, path: Path, *, lead_settings: LeadSettings, clock: Clock,
                     update_on: str | None = None, dry_run: bool = False,
                     progress: Callable[[int, int | None], None] | None = None) -> ImportReport:
    """Import the prospects of an .xlsx or .csv file; see connector.leads.imports for keys and assignment.
    Raises ImportFileError when the file as a whole cannot be read; row problems are in the report.
    `progress`: told of the rows done (after each chunk) and the file's row count."""
    if update_on not in (None, *UPDATE_KEYS):
        raise ValueError(f"update_on must be one of {', '.join(UPDATE_KEYS)} (or None), not {update_on!r}")
    report = ImportReport(str(path), dry_run, update_on)
    service = LeadService(db, lead_settings, clock, review_recipients=lead_settings.review_recipients)
    with open_table(path) as (headers, rows):
        columns, report.ignored_columns = map_headers(headers)
        present = {column.header for column in columns.values()}
        required = [EMAIL] + ([EXTERNAL_ID] if update_on == "external-id" else [])
        missing = [name for name in required if name not in present]
        if missing:
            found = ", ".join(name for name in headers if name) or "none"
            raise ImportFileError(f"{path}: no {' or '.join(missing)} column (columns found: {found})")
        checker = RowChecker(columns, db, lead_settings)
        run = ProspectImport(db, report, service)
        total = count_rows(path) if progress is not None else None
        chunk: list[ImportRow] = []
        seen = 0
        for number, cells in rows:
            seen += 1
            if progress is not None and seen == CHUNK:
                progress(seen, total)
                seen = 0
            if all(cell_text(cell) is None for cell in cells):
                continue
            report.rows += 1
            row, errors = checker.check(number, cells)
            for error in errors:
                report.fail(error)
            if row is not None:
                chunk.append(row)
            if len(chunk) >= CHUNK:
                run.load(chunk)
                chunk = []
        if chunk:
            run.load(chunk)
        if progress is not None and seen:
            progress(seen, total)
    return report
