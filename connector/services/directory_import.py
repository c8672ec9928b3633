"""Importing partners and partner users from an XLSX or CSV file, with the prospect import's rules
(connector.leads.imports: its reader, header folding and error report).

Columns are matched by name whatever the case, spacing or punctuation; unknown columns are named
and ignored. Each row is written on its own through the DirectoryService (a partner is matched by
Name, a user by Email: present ones are updated with the row's non-empty cells, others created), so
a bad row loses nothing else. Every problem is one RowError: row number (the header is row 1), the
column, its letter and value, and why. Rows that failed can be written, with the file's header, to
a file of their own to fix and import again. Lists are separated by ';' or ','.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.leads.imports import ImportFileError, RowError
from connector.leads.imports.table import open_table
from connector.leads.imports.text import cell_text, fold
from connector.services.directory import (DirectoryError, DirectoryService, InvalidField, PartnerChanges, PartnerSpec,
                                          UnknownRecord, UserChanges, UserSpec, parse)

TEXT, LIST, FLAG = "text", "list", "flag"


@dataclass(frozen=True)
class _Column:
    header: str
    field: str
    kind: str = TEXT
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Template:
    key: str
    columns: tuple[_Column, ...]
    spec: type[Any]
    changes: type[Any]


TEMPLATES = {
    "partners": _Template("name", (
        _Column("Name", "name", aliases=("Partner", "Partner Name", "Account Name")),
        _Column("Type", "account_type", aliases=("Account Type", "Partner Type")),
        _Column("Tier", "tier", aliases=("Medallion",)),
        _Column("Parent", "parent", aliases=("Parent Account",)),
        _Column("Countries", "countries", LIST, ("Country",)),
        _Column("States", "states", LIST, ("State",)),
        _Column("Industries", "industries", LIST, ("Industry",)),
        _Column("Competencies", "competencies", LIST),
        _Column("Certifications", "certifications", LIST),
        _Column("Products", "products", LIST),
        _Column("Auto Accept", "auto_accept", FLAG),
        _Column("Ignored Companies", "ignored_companies", LIST),
        _Column("Notification Recipients", "notification_recipients", LIST, ("Recipients",)),
        _Column("Active", "active", FLAG),
    ), PartnerSpec, PartnerChanges),
    "users": _Template("email", (
        _Column("Email", "email", aliases=("Email Address", "E-mail")),
        _Column("Partner", "partner", aliases=("Partner Account", "Account")),
        _Column("First Name", "first_name"),
        _Column("Last Name", "last_name"),
        _Column("Role", "role"),
        _Column("Active", "active", FLAG),
    ), UserSpec, UserChanges),
}

_FLAGS = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


@dataclass
class DirectoryImportReport:
    """What a directory import did."""

    source: str
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    failed_rows: list[Sequence[object]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failed_rows)

    def line(self) -> str:
        ignored = f"; ignored column(s): {', '.join(self.ignored_columns)}" if self.ignored_columns else ""
        return (f"{self.source}: {self.rows} {self.kind} row(s) read; {self.created} created, {self.updated} updated, "
                f"{self.failed} failed{ignored}")


def import_directory(service: DirectoryService, kind: str, path: Path, *,
                     failed_rows: Path | None = None) -> DirectoryImportReport:
    """Import `kind` ("partners" or "users") from `path`. ImportFileError when the file cannot be used."""
    template = TEMPLATES[kind]
    report = DirectoryImportReport(str(path), kind)
    with open_table(path) as (headers, rows):
        mapped = _map_headers(template, headers, report)
        if not any(c.field == template.key for c in mapped.values()):
            key = next(c.header for c in template.columns if c.field == template.key)
            raise ImportFileError(f"{path}: no '{key}' column (the header row is row 1)")
        for number, cells in rows:
            if all(cell_text(c) is None for c in cells):
                continue
            report.rows += 1
            error = _import_row(service, template, mapped, number, cells, report)
            if error is not None:
                report.errors.append(error)
                report.failed_rows.append(list(cells))
    if failed_rows is not None and report.failed_rows:
        _write_rows(failed_rows, headers, report.failed_rows)
    return report


def _map_headers(template: _Template, headers: Sequence[str | None],
                 report: DirectoryImportReport) -> dict[int, _Column]:
    by_name = {fold(name): c for c in template.columns for name in (c.header, *c.aliases)}
    mapped: dict[int, _Column] = {}
    for index, name in enumerate(headers):
        if name is None:
            continue
        column = by_name.get(fold(name))
        if column is None:
            report.ignored_columns.append(name)
        elif any(c is column for c in mapped.values()):
            raise ImportFileError(f"{report.source}: two columns are {column.header}")
        else:
            mapped[index] = column
    return mapped


def _import_row(service: DirectoryService, template: _Template, mapped: dict[int, _Column], number: int,
                cells: Sequence[object], report: DirectoryImportReport) -> RowError | None:
    values: dict[str, Any] = {}
    where: dict[str, tuple[_Column, int, str]] = {}
    for index, column in mapped.items():
        text = cell_text(cells[index]) if index < len(cells) else None
        if text is None:
            continue
        where[column.field] = (column, index, text)
        if column.kind == LIST:
            values[column.field] = [v.strip() for v in re.split(r"[;,]", text) if v.strip()]
        elif column.kind == FLAG:
            flag = _FLAGS.get(text.strip().lower())
            if flag is None:
                return _located(number, column, index, text, "is not yes or no")
            values[column.field] = flag
        else:
            values[column.field] = text
    try:
        spec = parse(template.spec, values)
        ref = str(getattr(spec, template.key))
        try:
            (service.partner if template.key == "name" else service.user)(ref)
        except UnknownRecord:
            (service.add_partner if template.key == "name" else service.add_user)(spec)
            report.created += 1
            return None
        (service.edit_partner if template.key == "name" else service.edit_user)(ref, parse(template.changes, values))
        report.updated += 1
        return None
    except InvalidField as exc:
        top = exc.field.split(".")[0]
        column, index, text = where.get(top, (None, -1, "" if exc.value is None else str(exc.value)))
        message = str(exc).partition(": ")[2]
        if column is None:
            header = next((c.header for c in template.columns if c.field == top), exc.field)
            return RowError(number, header, text, f"{header}: {message}")
        return _located(number, column, index, text, message, quoted=False)
    except DirectoryError as exc:
        return RowError(number, "(row)", "", str(exc))


def _located(number: int, column: _Column, index: int, text: str, message: str, *, quoted: bool = True) -> RowError:
    from openpyxl.utils import get_column_letter  # imported when used: openpyxl is slow to import

    said = f"'{text}' {message}" if quoted else message
    return RowError(number, column.header, text, f"{column.header} (column {get_column_letter(index + 1)}): {said}")


def _write_rows(path: Path, headers: Sequence[str | None], rows: Sequence[Sequence[object]]) -> None:
    """The failed rows under the file's own header, as .xlsx or (otherwise) .csv."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook  # imported when written: it is slow to import

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Failed rows")
        sheet.append([h or "" for h in headers])
        for row in rows:
            sheet.append(["" if c is None else str(c) for c in row])
        workbook.save(path)
        return
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([h or "" for h in headers])
        for row in rows:
            writer.writerow(["" if c is None else c for c in row])
