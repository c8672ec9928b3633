"""Read the CRM's next batch while the current one is written: the iterator runs in a thread of
its own, one item ahead of the writer (the puller hands it the pages gathered into batches).

Memory stays bounded: besides the item being written, at most one waits in the queue and one is
being read. The reader's errors reach the writer in order, after the items read before them.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

_POLL_SECONDS = 0.1
"""How often a reader blocked on a full queue checks whether the writer has gone."""


def close_iterator(iterator: Iterator[object]) -> None:
    """Close a generator (running its cleanup: an adapter's open query, a reader's session);
    other iterators have nothing to close."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


class ReadAhead(Generic[T]):
    """`with ReadAhead(pages) as ahead: for page in ahead: ...`; leaving the block early stops the
    reader (after the request it is waiting on) and closes the page iterator in its thread."""

    def __init__(self, pages: Iterable[T]):
        self._pages = pages
        self._queue: queue.Queue[tuple[bool, T | BaseException | None]] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        context = contextvars.copy_context()  # log records from the reader name the lane, as the writer's do
        self._thread = threading.Thread(target=context.run, args=(self._read,), name="pull-read-ahead", daemon=True)

    def __enter__(self) -> ReadAhead[T]:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                pass
        self._thread.join()

    def __iter__(self) -> Iterator[T]:
        while True:
            done, item = self._queue.get()
            if done:
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]

    def _read(self) -> None:
        iterator = iter(self._pages)
        try:
            for page in iterator:
                if not self._put((False, page)):
                    return
            self._put((True, None))
        except BaseException as exc:  # handed to the writer, raised there
            self._put((True, exc))
        finally:
            close_iterator(iterator)

    def _put(self, item: tuple[bool, T | BaseException | None]) -> bool:
        """Queue an item; False when the writer has gone (read no further)."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return not self._stop.is_set()
            except queue.Full:
                continue
        return False
