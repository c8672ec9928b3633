"""The Runtime: one place that opens the datastore with its session hooks and builds each part;
a CRM's names and auth variants come from its installed adapter, checked with located errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from connector.adapters.hubspot import HubSpotAdapter, PrivateAppToken
from connector.config import ConfigError, load_settings
from connector.mapping import ProfileError, load_profile
from connector.runtime import Runtime
from connector.store.directory_version import DirectoryVersion
from connector.store.migrate import upgrade
from connector.store.outbox import OutboxEntry
from connector.store.partners import PartnerAccount
from connector.store.records import Contact

REPO = Path(__file__).resolve().parents[1]


def write(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def private_app_config(tmp_path: Path, database_url: str, adapter: str = "hubspot") -> Path:
    return write(tmp_path / "config.yaml", f"""\
        database: {{url: "{database_url}"}}
        connections:
          hs:
            adapter: {adapter}
            instance_url: http://127.0.0.1:9
            auth: {{type: private_app, token: "${{HS_TOKEN}}"}}
            mapping: {REPO / 'mappings/hubspot/advanced.yaml'}
        """)


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv("HS_TOKEN", "pat-na1-test")
    built = Runtime(load_settings(private_app_config(tmp_path, database_url)))
    upgrade(built.db)
    return built


def test_the_datastore_carries_every_hook(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        session.add(Contact(email="ada@example.com"))
        session.add(PartnerAccount(name="Alpha"))
    with runtime.db.session() as session:
        queued = session.scalars(select(OutboxEntry.connection).where(OutboxEntry.module == "contact")).all()
        version = session.scalar(select(DirectoryVersion.token))
    assert queued == ["hs"]
    assert version is not None


def test_parts_are_built_from_the_settings(runtime: Runtime) -> None:
    assert runtime.outbox.routes["contact"] == ["hs"]
    adapter = runtime.adapter("hs")
    assert isinstance(adapter, HubSpotAdapter)
    assert isinstance(adapter.client.tokens, PrivateAppToken)
    assert adapter.client.tokens.current().access_token == "pat-na1-test"
    engine = runtime.engine("hs")
    assert engine.outbox is runtime.outbox and engine.db is runtime.db
    assert runtime.leads is runtime.leads
    with pytest.raises(KeyError, match="no connection named 'sf' \\(configured: hs\\)"):
        runtime.engine("sf")


def test_an_auth_variant_the_adapter_does_not_offer_is_refused(tmp_path: Path, database_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HS_TOKEN", "pat-na1-test")
    path = private_app_config(tmp_path, database_url, adapter="salesforce")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    (problem,) = exc.value.problems
    assert (problem.where, problem.key) == (f"{path}:3", "connections.hs")
    assert "auth.type 'private_app' is not offered by adapter 'salesforce'" in problem.message
    assert "oauth, credentials_file, emulator" in problem.message


def test_a_profile_for_a_crm_not_installed_names_the_installed_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "profile.yaml", """\
        mode: basic
        crm: pipedrive
        objects: []
        """)
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert f"{path}:2: crm: unknown CRM 'pipedrive'; installed adapters: dynamics, hubspot, salesforce" in str(exc.value)
