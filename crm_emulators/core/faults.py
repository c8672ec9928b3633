"""Injected faults, the part every emulator shares: armed faults consumed in the order they were
added, each for a number of uses; the checks of an HTTP fault's status and headers; and the answer
that never arrives.

Each emulator keeps its own JSON form of a fault (the words its tests use) and the CRM's own error
bodies; what happens to a call (refused with a status, held, carried out then dropped, dropped before)
is the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, Protocol, TypeVar

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class Armed(Protocol):
    """A fault with `count` uses left."""

    count: int


F = TypeVar("F", bound=Armed)


class FaultQueue(Generic[F]):
    """Armed faults, tried in the order they were added; a fault that fires loses one use and leaves
    the queue at zero."""

    def __init__(self) -> None:
        self._faults: list[F] = []
        self.fired = 0

    def add(self, fault: F) -> F:
        if fault.count < 1:
            raise ValueError("count must be at least 1")
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def __iter__(self) -> Iterator[F]:
        return iter(list(self._faults))

    def take(self, matches: Callable[[F], bool]) -> F | None:
        """The first armed fault `matches` accepts, with one use consumed; None when none does."""
        for fault in self._faults:
            if matches(fault):
                fault.count -= 1
                self.fired += 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None


def http_status(value: Any) -> int:
    """An injected error status: an integer from 400 to 599 (ValueError otherwise)."""
    status = int(value)
    if not 400 <= status <= 599:
        raise ValueError("status must be from 400 to 599")
    return status


def header_strings(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Headers of an injected answer, names and values as strings."""
    return {str(name): str(value) for name, value in dict(headers or {}).items()}


class ResponseDropped(Exception):
    """Raised after the headers were sent, so that the server closes the connection."""


class DroppedResponse(Response):
    """A response that never arrives: the headers go out promising a body, then the connection closes.
    The client sees the connection broken mid-response (requests: ChunkedEncodingError; urllib3:
    ProtocolError), as when a network drops an answer the CRM had already acted on."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise ResponseDropped("response dropped by an injected fault")
