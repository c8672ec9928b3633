"""Reading an import file: the header and a stream of numbered rows of an .xlsx (first sheet,
openpyxl read-only) or .csv (dialect sniffed) file."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

from connector.leads.imports.text import cell_text


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, unknown format, a required column missing)."""


@contextmanager
def open_table(path: Path) -> Iterator[tuple[list[str | None], Iterator[tuple[int, Sequence[object]]]]]:
    """The header cells and a stream of (row number, cells) of an .xlsx (first sheet) or .csv file."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook  # imported when read: it is slow to import
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except (OSError, ValueError, KeyError, BadZipFile, InvalidFileException) as exc:
            raise ImportFileError(f"{path}: not a readable XLSX file ({exc})") from None
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            header = next(rows, ())
            yield [cell_text(c) for c in header], ((n, cells) for n, cells in enumerate(rows, start=2))
        finally:
            workbook.close()
    elif suffix == ".csv":
        try:
            stream = path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise ImportFileError(f"{path}: {exc.strerror}") from None
        with stream:
            sample = stream.read(65536)
            stream.seek(0)
            try:
                dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
            except csv.Error:
                dialect = csv.excel
            reader = csv.reader(stream, dialect)
            header = next(reader, [])
            yield [cell_text(c) for c in header], ((n, cells) for n, cells in enumerate(reader, start=2))
    else:
        raise ImportFileError(f"{path}: import reads .xlsx or .csv files, not '{suffix or 'no extension'}'")


def count_rows(path: Path) -> int | None:
    """How many rows follow the header (blank ones included), for a progress total: an .xlsx
    sheet's recorded dimension (None when the file records none), a .csv read once more."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook  # imported when read: it is slow to import

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = workbook.worksheets[0].max_row
        finally:
            workbook.close()
        return None if rows is None else max(0, rows - 1)
    with open_table(path) as (_header, rows):
        return sum(1 for _ in rows)
