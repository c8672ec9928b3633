"""The HubSpot emulator's responses against real HubSpot samples in shared/crm-fixtures (hs_*.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from crm_emulators.hubspot import EmulatorOptions, RunningEmulator, serve_in_background

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "crm-fixtures"
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def shape(value: Any) -> Any:
    """Keys and JSON types, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.fixture(scope="module")
def running() -> Iterator[RunningEmulator]:
    with serve_in_background(EmulatorOptions(ten_second_limit=1, daily_limit=2, search_per_second=None)) as served:
        yield served


@pytest.fixture
def api(running: RunningEmulator) -> Any:
    running.emulator.reset()
    token = running.credentials["portals"][0]["private_app_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def call(method: str, path: str, body: Any = None) -> requests.Response:
        response = session.request(method, running.base_url + path, json=body, timeout=5)
        requests.post(f"{running.base_url}/__emulator/clock", json={"advance_seconds": 10}, timeout=5)
        return response

    return call


def portal_id(running: RunningEmulator) -> int:
    return int(running.credentials["portals"][0]["portal_id"])


def test_fixtures_are_present() -> None:
    assert len(list(FIXTURES.glob("hs_*.json"))) >= 8


def test_validation_error_matches_hs_error_400_validation(running: RunningEmulator, api: Any) -> None:
    expected = fixture("hs_error_400_validation.json")
    response = api("POST", "/crm/v3/objects/contacts", {"properties": {"testproperty": "x"}})
    assert response.status_code == 400
    body = response.json()
    assert shape(body) == shape(expected)
    assert body["message"] == expected["message"].replace("{HubId}", str(portal_id(running)))
    assert body["errors"] == expected["errors"] and body["category"] == expected["category"]
    assert response.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]


def test_batch_create_207_matches_hs_batch_create_207(running: RunningEmulator, api: Any) -> None:
    expected = fixture("hs_batch_create_207.json")
    request = fixture("hs_batch_create_207.request.json")
    request["inputs"][0]["properties"] = {"firstname": "1"}  # the sample writes a ticket; the emulator has contacts
    response = api("POST", "/crm/v3/objects/contacts/batch/create", request)
    assert response.status_code == 207
    body = response.json()
    assert list(body) == list(expected)
    assert body["errors"] == [
        {**expected["errors"][0], "message": expected["errors"][0]["message"].replace("891936587", str(portal_id(running)))}
    ]
    record, sample = body["results"][0], expected["results"][0]
    assert set(sample) <= set(record)
    assert {k: shape(record[k]) for k in sample if k != "properties"} == {k: shape(v) for k, v in sample.items() if k != "properties"}
    assert {"createdate", "hs_lastmodifieddate", "hs_object_id"} <= set(record["properties"])
    assert all(isinstance(v, str) for v in record["properties"].values())
    for stamp in (body["startedAt"], body["completedAt"], record["createdAt"], record["updatedAt"], record["properties"]["createdate"]):
        assert ISO_MS.match(stamp)


def test_list_page_matches_hs_list_page(running: RunningEmulator, api: Any) -> None:
    expected = fixture("hs_list_page.json")
    for name in ("a", "b"):
        running.emulator.admin_upsert(0, "notes", {"hs_note_body": name})
    body = api("GET", "/crm/v3/objects/notes?limit=1").json()
    assert list(body) == list(expected)
    assert shape(body["paging"]) == shape(expected["paging"])
    record, sample = body["results"][0], expected["results"][0]
    assert list(record) == list(sample)
    assert set(sample["properties"]) <= set(record["properties"])
    assert int(body["paging"]["next"]["after"]) == int(record["id"]) + 1
    assert record["url"].endswith(f"/{portal_id(running)}/record/0-46/{record['id']}")


def test_token_response_matches_hs_token_refresh(running: RunningEmulator) -> None:
    expected = fixture("hs_token_refresh.json")
    creds = running.credentials
    response = requests.post(creds["token_url"], data={
        "grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
        "refresh_token": creds["refresh_token"],
    }, timeout=5)
    assert response.status_code == 200
    assert shape(response.json()) == shape(expected)
    assert list(response.json()) == list(expected)


def test_ten_secondly_and_daily_429_bodies(running: RunningEmulator) -> None:
    running.emulator.reset()
    url = f"{running.base_url}/crm/v3/objects/contacts"
    headers = {"Authorization": f"Bearer {running.credentials['portals'][0]['private_app_token']}"}
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    ten_secondly = requests.get(url, headers=headers, timeout=5)
    assert ten_secondly.status_code == 429
    assert shape(ten_secondly.json()) == shape(fixture("hs_429_ten_secondly_reported.json"))
    assert list(ten_secondly.json()) == list(fixture("hs_429_ten_secondly_reported.json"))
    running.emulator.advance_clock(10)
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    running.emulator.advance_clock(10)
    daily = requests.get(url, headers=headers, timeout=5)
    assert daily.status_code == 429
    assert list(daily.json()) == list(fixture("hs_429_daily.json"))
    assert {k: v for k, v in daily.json().items() if k not in ("correlationId", "requestId")} == {
        k: v for k, v in fixture("hs_429_daily.json").items() if k not in ("correlationId", "requestId")}
