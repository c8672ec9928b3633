"""A job for replica tests: sleeps `$UPM_PROBE_SECONDS` and writes each run's start and end, with its
lane, to `$UPM_PROBE_LOG` (`<unix time> <instance> start|end <lane>`), so runs of many lanes on
many daemons can be told apart."""

from __future__ import annotations

import os
import time

from connector.jobs.context import JobContext


def _write(event: str, lane: str) -> None:
    with open(os.environ["UPM_PROBE_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{time.time():.6f} {os.environ['UPM_PROBE_NAME']} {event} {lane}\n")


def run(context: JobContext) -> None:
    _write("start", context.lane)
    time.sleep(float(os.environ.get("UPM_PROBE_SECONDS", "0.2")))
    _write("end", context.lane)
