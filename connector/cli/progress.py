"""Progress on a terminal (rich, on stderr): one bar per step with its records so far, their rate
and the time taken; nothing at all when stderr is not a terminal, so scripts see the same output."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text


class RateColumn(ProgressColumn):
    """Records per second over the last seconds (rich's own speed estimate)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "-/s", style="progress.data.speed")


class TerminalProgress:
    """A `progress(step, records)` callback for the engine; `done()` closes the display."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._tasks: dict[str, TaskID] = {}
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                  TextColumn("{task.completed:,.0f} records"), RateColumn(), TimeElapsedColumn(),
                                  console=Console(file=sys.stderr), transient=False) if self.enabled else None

    def __call__(self, step: str, records: int) -> None:
        if self._progress is None:
            return
        if step not in self._tasks:
            if not self._tasks:
                self._progress.start()
            self._tasks[step] = self._progress.add_task(step, total=None)
        self._progress.advance(self._tasks[step], records)

    def done(self) -> None:
        if self._progress is not None and self._tasks:
            self._progress.stop()
