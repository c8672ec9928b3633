"""Fixtures of the adapter tests: `crm`, one CrmHarness per CRM in BACKENDS, on an emulator reset
for each test, and `sleeps`, the adapters' injected sleep.

A CRM joins the contract suite with one entry in BACKENDS: a callable returning a context manager
(entered once per session, lazily) whose `harness(db, *, sleep, page_size)` is a context manager
giving a CrmHarness for one test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any, Protocol

import pytest

from connector.store import Database

from .harness import CrmHarness
from .harness_dynamics import DynamicsBackend
from .harness_hubspot import HubSpotBackend, HubSpotHarness
from .harness_salesforce import SalesforceBackend

PAGE_SIZE = 10
"""Records per read page in the contract suite: small, so a few dozen records make several pages."""


class CrmBackend(Protocol):
    def harness(self, db: Database, *, sleep: Callable[[float], None], page_size: int | None = None) -> AbstractContextManager[Any]: ...


BACKENDS: dict[str, Callable[[], AbstractContextManager[CrmBackend]]] = {
    "hubspot": HubSpotBackend,
    "salesforce": SalesforceBackend,
    "dynamics": DynamicsBackend,
}


class RecordingSleep:
    """The adapters' sleep: records every wait and moves the emulator's clock instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.advance: Callable[[float], None] | None = None

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.advance is not None:
            self.advance(seconds)

    def clear(self) -> None:
        self.calls.clear()


class Backends:
    """Emulators started on first use and kept for the session."""

    def __init__(self, stack: ExitStack):
        self._stack = stack
        self._started: dict[str, CrmBackend] = {}

    def get(self, name: str) -> CrmBackend:
        if name not in self._started:
            self._started[name] = self._stack.enter_context(BACKENDS[name]())
        return self._started[name]


@pytest.fixture(scope="session")
def crm_backends() -> Iterator[Backends]:
    with ExitStack() as stack:
        yield Backends(stack)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture(params=list(BACKENDS))
def crm(request: pytest.FixtureRequest, crm_backends: Backends, db: Database, sleeps: RecordingSleep) -> Iterator[CrmHarness]:
    with crm_backends.get(request.param).harness(db, sleep=sleeps, page_size=PAGE_SIZE) as harness:
        sleeps.advance = harness.advance_clock
        yield harness


@pytest.fixture
def hubspot(crm_backends: Backends, db: Database, sleeps: RecordingSleep) -> Iterator[HubSpotHarness]:
    """The HubSpot harness with the adapter's default page size (HubSpot-specific tests)."""
    with crm_backends.get("hubspot").harness(db, sleep=sleeps) as harness:
        sleeps.advance = harness.advance_clock
        yield harness
