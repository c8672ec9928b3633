"""The `pytest` script (not only `python -m pytest`) collects the suite: test modules import their
shared helpers from the folders pytest puts on sys.path (`leads.conftest`, `support.partners`),
not through a `tests.` package that only `python -m` (the current folder on sys.path) can find."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_plain_pytest_collects_the_modules_that_share_helpers() -> None:
    pytest_script = Path(sys.executable).with_name("pytest")
    folders = ["tests/leads", "tests/sync", "tests/records", "tests/ops"]
    result = subprocess.run(
        [str(pytest_script), "--collect-only", "-q", "-p", "no:cacheprovider", *folders],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "error" not in result.stdout.splitlines()[-1], result.stdout[-2000:]
    assert "tests/leads/test_targets.py::" in result.stdout
    assert "tests/leads/test_import_cells.py::" in result.stdout
