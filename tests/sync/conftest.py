"""Sync-engine fixtures: a served CRM emulator, a config naming it, and the engine the CLI and the
daemon would build from that config (adapter, vault, profile, outbox router) on the test's database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connector.config import Settings, load_settings
from crm_emulators.hubspot import EmulatorOptions, serve_in_background
from connector.store import Database
from connector.store.migrate import upgrade
from connector.runtime import Runtime
from connector.sync.engine import SyncEngine

REPO = Path(__file__).resolve().parents[2]


@dataclass
class CrmSetup:
    """A served emulator, one connection configured against it, and the datastore."""

    running: Any
    settings: Settings
    db: Database
    config_path: Path
    connection: str

    @property
    def emulator(self) -> Any:
        return self.running.emulator

    def engine(self) -> SyncEngine:
        return Runtime(self.settings, db=self.db).engine(self.connection)

    def run(self, method: str = "cycle", **kwargs: Any):  # type: ignore[no-untyped-def]
        """Run one engine method (cycle, resync) the way a lane does, closing the adapter after."""
        engine = self.engine()
        try:
            return getattr(engine, method)(**kwargs)
        finally:
            engine.adapter.close()

    def cycle(self, **kwargs: Any):  # type: ignore[no-untyped-def]
        return self.run("cycle", **kwargs)


class HubSpotSetup(CrmSetup):
    """The connection `hs` on a HubSpot emulator."""

    def calls(self, category: str) -> int:
        return int(self.emulator.stats()["portals"][0]["api_calls"]["by_category"].get(category, 0))

    def writes(self) -> int:
        """Record-writing API calls the CRM has counted (batch upserts and updates)."""
        return self.calls("batch_upsert") + self.calls("batch_update")

    def crm(self, object_type: str) -> list[dict[str, Any]]:
        return [{"id": r["id"], **r["properties"]} for r in self.emulator.records(0, object_type) if not r["archived"]]


def write_config(tmp_path: Path, database_url: str, credentials: dict[str, Any], profile: str,
                 crm: str = "hubspot", name: str = "hs", options: str | None = None) -> Path:
    (tmp_path / f"{name}-credentials.json").write_text(json.dumps(credentials))
    options = options or ("{search_per_second: 1000}" if crm == "hubspot" else "{}")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
database: {{url: "{database_url}"}}
secrets: {{key_file: upm.key}}
connections:
  {name}:
    adapter: {crm}
    auth: {{type: credentials_file, file: {name}-credentials.json}}
    mapping: {REPO / "mappings" / crm / profile}
    options: {options}
"""
    )
    return config


@pytest.fixture(params=["advanced.yaml"])
def hubspot_profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def hs(tmp_path: Path, database_url: str, hubspot_profile: str) -> Iterator[HubSpotSetup]:
    # no search lag: these cycles run back to back on the real clock (lag: tests/adapters)
    with serve_in_background(EmulatorOptions(search_per_second=None, ten_second_limit=None, search_lag_seconds=0)) as running:
        config = write_config(tmp_path, database_url, running.credentials, hubspot_profile)
        settings = load_settings(config)
        db = Runtime(settings).db
        upgrade(db)
        yield HubSpotSetup(running, settings, db, config, "hs")
        db.dispose()


class DynamicsSetup(CrmSetup):
    """The connection `dyn` on a Dataverse emulator (the shared OAuth flow: its refresh-token grant)."""


@pytest.fixture
def dynamics_profile() -> str:
    return "advanced.yaml"


@pytest.fixture
def dynamics_options() -> str:
    """The Dynamics connection's adapter options (YAML flow mapping)."""
    return "{}"


@pytest.fixture
def dyn(tmp_path: Path, database_url: str, dynamics_profile: str, dynamics_options: str) -> Iterator[DynamicsSetup]:
    from crm_emulators.dynamics import EmulatorOptions as DynamicsOptions
    from crm_emulators.dynamics import serve_in_background as serve_dynamics

    with serve_dynamics(DynamicsOptions(), state_dir=tmp_path / "dyn-state") as running:
        config = write_config(tmp_path, database_url, running.credentials, dynamics_profile, crm="dynamics", name="dyn",
                              options=dynamics_options)
        settings = load_settings(config)
        db = Runtime(settings).db
        upgrade(db)
        yield DynamicsSetup(running, settings, db, config, "dyn")
        db.dispose()


class SalesforceSetup(CrmSetup):
    """The connection `sf` on a Salesforce emulator."""


@pytest.fixture(params=["advanced.yaml"])
def salesforce_profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def salesforce_options() -> str:
    """The Salesforce connection's adapter options (YAML flow mapping)."""
    return "{}"


@pytest.fixture
def sf(tmp_path: Path, database_url: str, salesforce_profile: str, salesforce_options: str) -> Iterator[SalesforceSetup]:
    from crm_emulators.salesforce import EmulatorOptions as SalesforceOptions
    from crm_emulators.salesforce import serve_in_background as serve_salesforce

    with serve_salesforce(SalesforceOptions(), state_dir=tmp_path / "sf-state") as running:
        config = write_config(tmp_path, database_url, running.credentials, salesforce_profile, crm="salesforce", name="sf",
                              options=salesforce_options)
        settings = load_settings(config)
        db = Runtime(settings).db
        upgrade(db)
        yield SalesforceSetup(running, settings, db, config, "sf")
        db.dispose()
