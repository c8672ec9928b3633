"""A job for daemon tests: works in timed batches and writes what it does to $UPM_PROBE_LOG.

Each line: `<unix time> <instance> <event> <detail>`; events: start, batch-start, batch-end, end.
"""

from __future__ import annotations

import os
import time

from connector.jobs.context import JobContext


def _write(event: str, detail: str = "") -> None:
    line = f"{time.time():.6f} {os.environ['UPM_PROBE_NAME']} {event} {detail}\n"
    with open(os.environ["UPM_PROBE_LOG"], "a", encoding="utf-8") as log:
        log.write(line)


def run(context: JobContext) -> None:
    batches = int(os.environ.get("UPM_PROBE_BATCHES", "5"))
    seconds = float(os.environ.get("UPM_PROBE_BATCH_SECONDS", "0.2"))
    _write("start", context.lane)
    done = 0
    for index in range(batches):
        _write("batch-start", str(index))
        time.sleep(seconds)
        _write("batch-end", str(index))
        done += 1
        if context.should_stop():
            break
    _write("end", f"{done}/{batches}")
