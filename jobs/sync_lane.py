"""The sync lane of one connection: one incremental cycle (pull, then push) per run."""

from __future__ import annotations

from connector.daemon.context import JobContext
from connector.sync.connections import open_engine


def run(context: JobContext) -> None:
    assert context.connection is not None
    engine = open_engine(context.settings, context.connection, context.db, clock=context.clock)
    try:
        counts = engine.cycle(should_stop=context.should_stop)
    finally:
        engine.adapter.close()
    context.log.info("sync cycle: %s", counts.line(), extra={"read": counts.read, "failed": counts.failed})
