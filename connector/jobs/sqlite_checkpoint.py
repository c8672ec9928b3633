"""The SQLite checkpoint lane: folds the write-ahead log into the database file in the background.

Left to SQLite, the checkpoint runs inside whichever commit crosses the log's size threshold, and a
lead assignment or a sync batch that happens to be that commit waits tens of milliseconds for it.
Schedule: `database.checkpoint_schedule` (default every 5 s), under the lane name `LANE`; only
scheduled when the database is SQLite.
"""

from __future__ import annotations

from connector.jobs.context import JobContext

LANE = "store:checkpoint"


def run(context: JobContext) -> None:
    left = context.db.checkpoint()
    if left:
        context.log.debug("write-ahead log checkpoint: %d page(s) wait for a reader to move on", left)
