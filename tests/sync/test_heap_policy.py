"""Bulk work runs under the collector policy of `connector.heap`: start-up's objects frozen, the
raised thresholds in force, both undone afterwards; `upm-connector sync` applies it."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.heap import THRESHOLDS, bulk_work_heap
from connector.sync.engine import SyncEngine

from .conftest import SalesforceSetup


def tracked(obj: object) -> bool:
    """Whether the collector walks `obj` (frozen objects are left out of `gc.get_objects`)."""
    return any(o is obj for o in gc.get_objects())


def test_bulk_work_heap_freezes_start_up_and_raises_thresholds_then_restores() -> None:
    before = gc.get_threshold()
    started_up = [["built at start-up"]]
    with bulk_work_heap():
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0 and not tracked(started_up)
        during = [["a batch's object"]]
        assert tracked(during)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0 and tracked(started_up)


def test_a_cycle_made_during_bulk_work_is_still_collected() -> None:
    with bulk_work_heap():
        cycle: list[Any] = []
        cycle.append(cycle)
        probe = id(cycle)
        del cycle
        gc.collect()
        assert not any(id(o) == probe for o in gc.get_objects())


def test_sync_command_runs_its_cycle_under_the_policy(sf: SalesforceSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    sf.emulator.admin_upsert("Contact", {"LastName": "Heap", "Email": "heap@example.com"})
    seen: list[tuple[int, int, int]] = []
    original = SyncEngine.cycle

    def cycle(self: SyncEngine, *args: Any, **kwargs: Any) -> Any:
        seen.append(gc.get_threshold())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SyncEngine, "cycle", cycle)
    before = gc.get_threshold()
    result = CliRunner().invoke(main, ["--config", str(sf.config_path), "sync", "sf"])
    assert result.exit_code == 0 and "created 1" in result.output, result.output
    assert seen == [THRESHOLDS]
    assert gc.get_threshold() == before
