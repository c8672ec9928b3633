"""Start-up stays light: the CLI and the daemon's app import openpyxl (spreadsheets) and pygal
(charts) only when a file is read or written or a chart drawn, not to start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from connector.cli.report import FORMATS
from connector.reports import output


def loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(m for m in ('openpyxl', 'pygal') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize("statement", ["import connector.cli", "import connector.api.app", "import connector.daemon.service"])
def test_starting_imports_neither_openpyxl_nor_pygal(statement: str) -> None:
    assert loaded_after(statement) == set()


def test_the_cli_offers_the_formats_the_report_writer_knows() -> None:
    assert FORMATS == output.FORMATS
