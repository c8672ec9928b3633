"""The process's garbage-collector policy while it runs bulk work (the daemon, `sync`, `resync`).

CPython's cyclic collector runs a young-generation pass every 700 net container allocations and,
every 10 x 10 of those, a full pass over every live object. A sync batch allocates a few dicts and
tuples per record (2,000 records a page) and frees nearly all of them by reference counting: the
passes find almost nothing, yet the full ones walk the whole heap, start-up included (modules, the
ORM's mappers, the settings). Profiled on a 100,000-record initial pull, those passes were a fifth to
a third of the engine's time.

`bulk_work_heap` moves what start-up built into the permanent generation (`gc.freeze`, as the
Python docs advise for long-lived processes: the collector no longer walks it), and raises the
young-generation threshold so a pass runs per few pages, not per few records. Reference cycles are
still collected, later: memory held by the not-yet-collected young objects is bounded by the
threshold (tens of thousands of small objects, under a few MiB).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import configure_mappers

THRESHOLDS = (50_000, 20, 100)
"""Young generation every 50,000 net allocations (CPython's default: 700), the middle one every 20
of those (10), the full pass every 100 middle ones (10), each still subject to CPython's own rule
that a full pass waits until a quarter of the long-lived objects are new."""


@contextmanager
def bulk_work_heap() -> Iterator[None]:
    """Within the block: start-up's objects frozen and `THRESHOLDS` in force; both undone on exit.

    Enter it once start-up is done (settings loaded, datastore opened): the ORM's mappers are
    configured here first, so they are among the frozen objects rather than the first batch's."""
    configure_mappers()
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
