"""A report written as CSV, XLSX (rows, then a Summary sheet) or JSON (columns, rows, summary)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook

from connector.reports.base import Report

FORMATS = ("csv", "xlsx", "json")


def as_json(report: Report) -> dict[str, Any]:
    """The report as one JSON object (what the API answers and `--format json` prints)."""
    return {"report": report.name, "title": report.title, "columns": list(report.columns),
            "rows": [{c: row.get(c) for c in report.columns} for row in report.rows], "summary": report.summary}


def write_text(report: Report, fmt: str, stream: IO[str]) -> None:
    """CSV or JSON to a text stream."""
    if fmt == "json":
        json.dump(as_json(report), stream, indent=2)
        stream.write("\n")
        return
    writer = csv.DictWriter(stream, fieldnames=list(report.columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(report.rows)


def write_xlsx(report: Report, path: Path | IO[bytes]) -> None:
    """An XLSX workbook: the rows on sheet 1 (named after the report), the summary on sheet 2."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(report.name[:31])
    sheet.append(list(report.columns))
    for row in report.rows:
        sheet.append([row.get(c) for c in report.columns])
    summary = book.create_sheet("Summary")
    for key, value in report.summary.items():
        summary.append([key, value])
    book.save(path)
