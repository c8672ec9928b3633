"""The import's outcome: counts, one RowError per problem (row, field, value, message), the
summary lines the CLI prints, and the XLSX error report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RowError:
    """One problem with one row: the error report's line."""

    row: int
    field: str
    value: str
    message: str


@dataclass
class ImportReport:
    """What an import did (or, on a dry run, would do)."""

    source: str
    dry_run: bool
    update_on: str | None
    rows: int = 0
    created: int = 0
    updated: int = 0
    assigned: int = 0
    distributed: Counter[str] = field(default_factory=Counter)
    """New leads distributed by the rules, by the distribution state they reached."""
    not_assigned: int = 0
    """Rows imported whose assignment or distribution the service refused (they are in `errors`)."""
    errors: list[RowError] = field(default_factory=list)
    failed_rows: set[int] = field(default_factory=set)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Rows not imported."""
        return len(self.failed_rows)

    def fail(self, error: RowError) -> None:
        """Record a problem that keeps its row out."""
        self.errors.append(error)
        self.failed_rows.add(error.row)

    def lines(self) -> list[str]:
        """The summary, as the CLI prints it."""
        verb = "would be" if self.dry_run else "were"
        lines = [f"{self.source}: {self.rows} row(s) read; {self.created} {verb} created, {self.updated} {verb} "
                 f"updated, {self.failed} failed"]
        if self.dry_run:
            lines.append(f"{self.assigned} would be assigned as RecordAssignTo says, the other new ones distributed "
                         "by the rules; nothing was written")
        else:
            states = ", ".join(f"{count} {state}" for state, count in sorted(self.distributed.items())) or "none"
            lines.append(f"{self.assigned} assigned as RecordAssignTo says; distributed by the rules: {states}")
            if self.not_assigned:
                lines.append(f"{self.not_assigned} imported row(s) could not be assigned (see the errors)")
        if self.ignored_columns:
            lines.append(f"ignored column(s): {', '.join(self.ignored_columns)}")
        return lines


def write_error_report(errors: Sequence[RowError], path: Path) -> None:
    """The XLSX error report: one line per problem (Row, Field, Value, Error Log), in row order.
    Values are written as text, never as formulas."""
    from openpyxl import Workbook  # imported when written: it is slow to import
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Errors")
    sheet.freeze_panes = "A2"
    sheet.append(["Row", "Field", "Value", "Error Log"])
    for error in sorted(errors, key=lambda e: e.row):
        cells: list[Any] = [error.row]
        for text in (error.field, error.value, error.message):
            cell = WriteOnlyCell(sheet, text)
            cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    workbook.save(path)
