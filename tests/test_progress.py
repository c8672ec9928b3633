"""Progress on sync and resync: rich bars on a terminal's stderr, nothing when stderr is a pipe."""

from __future__ import annotations

import io
import re

import pytest

from connector.cli.progress import TerminalProgress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_each_step_with_its_records(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = _Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    progress = TerminalProgress()
    progress("pull contact", 200)
    progress("pull contact", 50)
    progress("push contact", 3)
    progress.done()
    shown = screen.getvalue()
    assert "pull contact" in shown and "250 records" in shown and "push contact" in shown and "3 records" in shown
    assert "/s" in shown, "the rate is shown"


def test_a_pipe_sees_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    progress = TerminalProgress()
    progress("pull contact", 200)
    progress.done()
    assert pipe.getvalue() == "" and not progress.enabled


def test_a_known_total_shows_the_bar_the_total_and_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    screen = _Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    progress = TerminalProgress()
    push = progress.for_step("push contact")
    push(0, 1000)
    push(250, 1000)
    progress("pull contact", 40)
    progress.done()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "250 / 1,000 records" in shown and "eta" in shown
    assert "40 records" in shown and "40 / " not in shown, "a pull has no total: no bar total, no ETA"
