"""Progress on a terminal (rich, on stderr): one bar per step with its records so far, their rate
and the time taken, and where the step's total is known (a push, an export, an import) the total,
the bar and the time left; nothing at all when stderr is not a terminal, so scripts see the same
output."""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Records per second over the last seconds (rich's own speed estimate)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "-/s", style="progress.data.speed")


class RecordsColumn(ProgressColumn):
    """`250 / 1,000 records` when the total is known, else `250 records`."""

    def render(self, task: Task) -> Text:
        done = f"{task.completed:,.0f}"
        return Text(f"{done} / {task.total:,.0f} records" if task.total is not None else f"{done} records",
                    style="progress.download")


class EtaColumn(ProgressColumn):
    """`eta 0:00:12` when the total is known (rich's estimate), else nothing."""

    def __init__(self) -> None:
        super().__init__()
        self._remaining = TimeRemainingColumn()

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text("eta ") + self._remaining.render(task)


class TerminalProgress:
    """A `progress(step, records, total)` callback (the engine's Progress; `total` None when not
    known); `done()` closes the display. `for_step(step)` is the `(records, total)` callback one
    step's work takes (export, import)."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._tasks: dict[str, TaskID] = {}
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), RecordsColumn(),
                                  RateColumn(), TimeElapsedColumn(), EtaColumn(),
                                  console=Console(file=sys.stderr), transient=False) if self.enabled else None

    def __call__(self, step: str, records: int, total: int | None = None) -> None:
        if self._progress is None:
            return
        if step not in self._tasks:
            if not self._tasks:
                self._progress.start()
            self._tasks[step] = self._progress.add_task(step, total=total)
        elif total is not None:
            self._progress.update(self._tasks[step], total=total)
        self._progress.advance(self._tasks[step], records)

    def for_step(self, step: str) -> Callable[[int, int | None], None]:
        """The `(records, total)` callback of one step."""
        def report(records: int, total: int | None) -> None:
            self(step, records, total)
        return report

    def done(self) -> None:
        if self._progress is not None and self._tasks:
            self._progress.stop()
            self._tasks = {}
