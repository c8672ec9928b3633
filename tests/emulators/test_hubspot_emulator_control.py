"""The HubSpot emulator's rate limits, injected faults, control endpoints, seed file and CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from click.testing import CliRunner
from hubspot import HubSpot
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInputUpsert, PublicObjectSearchRequest

from crm_emulators.hubspot import EmulatorOptions, HubSpotEmulator, RunningEmulator, serve_in_background
from crm_emulators.hubspot import cli

RATE_HEADERS = {
    "x-hubspot-ratelimit-max",
    "x-hubspot-ratelimit-remaining",
    "x-hubspot-ratelimit-interval-milliseconds",
    "x-hubspot-ratelimit-daily",
    "x-hubspot-ratelimit-daily-remaining",
}


@pytest.fixture(scope="module")
def limited() -> Iterator[RunningEmulator]:
    options = EmulatorOptions(portals=2, ten_second_limit=3, daily_limit=6, search_per_second=2)
    with serve_in_background(options) as running:
        yield running


@pytest.fixture
def running(limited: RunningEmulator) -> RunningEmulator:
    limited.emulator.reset()
    return limited


def bearer(running: RunningEmulator, portal: int = 0) -> dict[str, str]:
    return {"Authorization": f"Bearer {running.credentials['portals'][portal]['private_app_token']}"}


def get_contacts(running: RunningEmulator, portal: int = 0) -> requests.Response:
    return requests.get(f"{running.base_url}/crm/v3/objects/contacts", headers=bearer(running, portal), timeout=5)


def post_search(running: RunningEmulator) -> requests.Response:
    return requests.post(f"{running.base_url}/crm/v3/objects/contacts/search", json={"limit": 1}, headers=bearer(running), timeout=5)


def control(running: RunningEmulator, method: str, path: str, body: Any = None) -> requests.Response:
    response = requests.request(method, f"{running.base_url}/__emulator/{path}", json=body, timeout=5)
    response.raise_for_status()
    return response


def failure(call: Callable[[], Any]) -> Any:
    with pytest.raises(Exception) as caught:
        call()
    assert hasattr(caught.value, "status"), caught.value
    return caught.value


# ---- rate limits


def test_rate_limit_headers_on_api_calls_but_not_on_search(running: RunningEmulator) -> None:
    first = get_contacts(running)
    assert RATE_HEADERS <= {k.lower() for k in first.headers}
    assert first.headers["X-HubSpot-RateLimit-Max"] == "3"
    assert first.headers["X-HubSpot-RateLimit-Remaining"] == "2"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert first.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "5"
    assert get_contacts(running).headers["X-HubSpot-RateLimit-Remaining"] == "1"
    searched = post_search(running)
    assert searched.status_code == 200
    assert not {k.lower() for k in searched.headers} & RATE_HEADERS


def test_ten_secondly_limit_refuses_then_clears_when_the_clock_moves(running: RunningEmulator) -> None:
    assert [get_contacts(running).status_code for _ in range(3)] == [200, 200, 200]
    refused = get_contacts(running)
    assert refused.status_code == 429
    body = refused.json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert get_contacts(running, portal=1).status_code == 200
    control(running, "POST", "clock", {"advance_seconds": 10})
    assert get_contacts(running).status_code == 200
    assert running.emulator.stats()["portals"][0]["rejected"] == {"TEN_SECONDLY_ROLLING": 1}


def test_search_has_its_own_per_second_limit(running: RunningEmulator) -> None:
    assert [post_search(running).status_code for _ in range(2)] == [200, 200]
    refused = post_search(running)
    assert refused.status_code == 429
    assert refused.json()["message"] == "You have reached your secondly limit."
    assert not {k.lower() for k in refused.headers} & RATE_HEADERS
    assert get_contacts(running).status_code == 200
    control(running, "POST", "clock", {"advance_seconds": 1})
    assert post_search(running).status_code == 200


def test_daily_limit_refuses_until_the_next_day(running: RunningEmulator) -> None:
    for _ in range(6):
        assert get_contacts(running).status_code == 200
        control(running, "POST", "clock", {"advance_seconds": 10})
    refused = get_contacts(running)
    assert refused.status_code == 429
    assert refused.json()["policyName"] == "DAILY" and refused.json()["message"] == "You have reached your daily limit."
    assert refused.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    control(running, "POST", "clock", {"advance_seconds": 86_400})
    assert get_contacts(running).status_code == 200


# ---- faults


def test_gateway_errors_fire_count_times_then_calls_succeed(running: RunningEmulator) -> None:
    control(running, "POST", "faults", {"type": "http_error", "status": 503, "count": 2, "path_contains": "/crm/v3/objects/contacts"})
    client = HubSpot(access_token=running.credentials["portals"][0]["private_app_token"], host=running.base_url)
    assert [failure(client.crm.contacts.basic_api.get_page).status for _ in range(2)] == [503, 503]
    assert client.crm.contacts.basic_api.get_page().results == []
    stats = running.emulator.stats()
    assert stats["portals"][0]["rejected"] == {"fault_503": 2} and stats["faults"]["fired"] == 2
    assert stats["portals"][0]["api_calls"]["by_category"] == {"list": 1}


def test_slow_response_times_out_the_client_after_the_write_happened(running: RunningEmulator) -> None:
    control(running, "POST", "faults", {"type": "timeout", "delay_seconds": 0.8, "method": "POST"})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{running.base_url}/crm/v3/objects/contacts", json={"properties": {"upm_id": "T1"}},
                      headers=bearer(running), timeout=0.3)
    assert [r["properties"]["upm_id"] for r in running.emulator.records(0, "contacts")] == ["T1"]
    assert control(running, "GET", "faults").json()["faults"] == []


def test_record_errors_hit_chosen_records_then_clear(running: RunningEmulator) -> None:
    control(running, "POST", "faults", {"faults": [
        {"type": "record_error", "values": ["U-bad"], "count": 1, "category": "VALIDATION_ERROR", "message": "nope"}]})
    client = HubSpot(access_token=running.credentials["portals"][0]["private_app_token"], host=running.base_url)
    inputs = [{"idProperty": "upm_id", "id": "U-bad", "properties": {}}, {"idProperty": "upm_id", "id": "U-ok", "properties": {}}]
    first = client.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs))
    assert [r.properties["upm_id"] for r in first.results] == ["U-ok"]
    assert first.errors[0].message == "nope" and first.errors[0].context == {"ids": ["U-bad"]}
    second = client.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs))
    assert sorted((r.properties["upm_id"], r.new) for r in second.results) == [("U-bad", True), ("U-ok", False)]
    control(running, "POST", "faults", {"type": "record_error", "values": ["U-bad"], "count": 2, "category": "CONFLICT"})
    third = client.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs))
    assert third.errors[0].category == "CONFLICT" and [r.properties["upm_id"] for r in third.results] == ["U-ok"]
    bad_id = next(r["id"] for r in running.emulator.records(0, "contacts") if r["properties"]["upm_id"] == "U-bad")
    control(running, "POST", "clock", {"advance_seconds": 10})  # this server allows 3 calls per 10 s
    patched = requests.patch(f"{running.base_url}/crm/v3/objects/contacts/{bad_id}", json={"properties": {"firstname": "x"}},
                             headers=bearer(running), timeout=5)
    assert patched.status_code == 409 and patched.json()["category"] == "CONFLICT"


def test_faults_can_be_listed_and_cleared(running: RunningEmulator) -> None:
    control(running, "POST", "faults", {"type": "http_error", "status": 502, "count": 5})
    assert control(running, "GET", "faults").json()["faults"][0]["count"] == 5
    assert control(running, "DELETE", "faults").status_code == 204
    assert get_contacts(running).status_code == 200
    bad = requests.post(f"{running.base_url}/__emulator/faults", json={"type": "http_error", "status": 302}, timeout=5)
    assert bad.status_code == 400


# ---- control endpoints


def test_stats_count_api_calls_by_category_but_not_control_calls(running: RunningEmulator) -> None:
    base, headers = running.base_url, bearer(running)
    created = requests.post(f"{base}/crm/v3/objects/contacts", json={"properties": {"upm_id": "X"}}, headers=headers, timeout=5).json()
    requests.get(f"{base}/crm/v3/objects/contacts/{created['id']}", headers=headers, timeout=5)
    requests.post(f"{base}/crm/v3/objects/contacts/batch/read", json={"inputs": [{"id": created["id"]}]}, headers=headers, timeout=5)
    control(running, "POST", "clock", {"advance_seconds": 10})
    post_search(running)
    requests.delete(f"{base}/crm/v3/objects/contacts/{created['id']}", headers=headers, timeout=5)
    control(running, "GET", "stats")
    portal = control(running, "GET", "stats").json()["portals"][0]
    assert portal["api_calls"] == {"total": 5, "by_category": {"archive": 1, "batch_read": 1, "create": 1, "get": 1, "search": 1}}
    assert portal["records"]["contacts"] == {"active": 0, "archived": 1}
    assert portal["search_seconds"] > 0 and control(running, "GET", "stats").json()["portals"][1]["search_seconds"] == 0


def test_admin_records_endpoint_edits_like_a_user(running: RunningEmulator) -> None:
    created = control(running, "POST", "records/1/contacts", {"properties": {"email": "ui@x.com", "firstname": "Ui"}}).json()
    control(running, "POST", "clock", {"advance_seconds": 30})
    control(running, "POST", "records/1/contacts", {"id": created["id"], "properties": {"firstname": "Edited"}})
    listed = control(running, "GET", "records/1/contacts").json()["results"]
    assert listed[0]["properties"]["firstname"] == "Edited" and listed[0]["updatedAt"] > listed[0]["createdAt"]
    control(running, "DELETE", f"records/1/contacts/{created['id']}")
    assert running.emulator.records(1, "contacts")[0]["archived"] is True
    assert running.emulator.records(0, "contacts") == []
    assert running.emulator.stats()["portals"][1]["api_calls"]["total"] == 0
    bad = requests.post(f"{running.base_url}/__emulator/records/1/contacts", json={"properties": {"nope": 1}}, timeout=5)
    assert bad.status_code == 400


def test_reset_restores_the_starting_state(running: RunningEmulator) -> None:
    running.emulator.admin_upsert(0, "contacts", {"upm_id": "gone"})
    get_contacts(running)
    control(running, "POST", "faults", {"type": "http_error", "status": 504})
    control(running, "POST", "reset")
    stats = control(running, "GET", "stats").json()
    assert stats["portals"][0]["records"]["contacts"]["active"] == 0
    assert stats["portals"][0]["api_calls"]["total"] == 0 and stats["faults"]["armed"] == []
    assert stats["portals"][0]["search_seconds"] == 0
    assert get_contacts(running).status_code == 200


def test_credentials_endpoint_lists_every_portal(running: RunningEmulator) -> None:
    creds = control(running, "GET", "credentials").json()
    assert creds["base_url"] == running.base_url and creds["token_url"].endswith("/oauth/v1/token")
    assert [p["portal_id"] for p in creds["portals"]] == [p["portal_id"] for p in running.emulator.stats()["portals"]]
    assert creds["portals"][1]["refresh_token"] != creds["refresh_token"]


# ---- seed file and CLI


def test_seed_file_defines_properties_and_records(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"portals": [
        {"properties": {"contacts": [{"name": "region"}]}, "records": {"contacts": [{"email": "s@x.com", "region": "EMEA"}]}},
        {"records": {"companies": [{"name": "Beta"}]}},
    ]}))
    emulator = HubSpotEmulator(EmulatorOptions(portals=2, seed_file=seed))
    assert [r["properties"]["region"] for r in emulator.records(0, "contacts")] == ["EMEA"]
    assert [r["properties"]["name"] for r in emulator.records(1, "companies")] == ["Beta"]
    emulator.admin_upsert(1, "companies", {"name": "Gamma"})
    emulator.reset()
    assert [r["properties"]["name"] for r in emulator.records(1, "companies")] == ["Beta"]


def test_cli_writes_credentials_and_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(cli, "serve_forever", lambda app, host, port: served.update(app=app, host=host, port=port))
    target = tmp_path / "creds.json"
    result = CliRunner().invoke(cli.command, ["--port", "18090", "--portals", "3", "--write-credentials", str(target),
                                              "--token-ttl", "60", "--ten-second-limit", "7", "--daily-limit", "9"])
    assert result.exit_code == 0, result.output
    assert cli.command.name == "hubspot"
    creds = json.loads(target.read_text())
    assert creds["base_url"] == "http://127.0.0.1:18090" and len(creds["portals"]) == 3
    assert served["host"] == "127.0.0.1" and served["port"] == 18090
    assert any(getattr(route, "path", "") == "/crm/v3/objects/{object_type}/search" for route in served["app"].routes)


def test_search_request_through_client_is_refused_over_per_second_limit(running: RunningEmulator) -> None:
    client = HubSpot(access_token=running.credentials["portals"][0]["private_app_token"], host=running.base_url)
    request = PublicObjectSearchRequest(limit=1)
    client.crm.contacts.search_api.do_search(public_object_search_request=request)
    client.crm.contacts.search_api.do_search(public_object_search_request=request)
    refused = failure(lambda: client.crm.contacts.search_api.do_search(public_object_search_request=request))
    assert refused.status == 429 and "secondly limit" in refused.body


def test_search_index_lag_hides_fresh_writes_until_it_passes() -> None:
    emulator = HubSpotEmulator(EmulatorOptions(search_lag_seconds=5, search_per_second=None))
    auth = f"Bearer {emulator.credentials('http://unused')['portals'][0]['private_app_token']}"

    def total() -> int:
        result = emulator.call(auth, "search", lambda crm: (200, crm.search("contacts", {})), method="POST",
                               path="/crm/v3/objects/contacts/search", search=True)
        assert result.status == 200 and result.headers == {}
        return int(result.body["total"])

    emulator.admin_upsert(portal_index=0, object_type="contacts", properties={"upm_id": "L1"})
    assert total() == 0
    emulator.advance_clock(5)
    assert total() == 1


def test_python_front_door_refuses_bad_tokens_without_counting() -> None:
    emulator = HubSpotEmulator()
    result = emulator.call(None, "list", lambda crm: (200, {}), method="GET", path="/crm/v3/objects/contacts")
    assert result.status == 401 and result.body["category"] == "INVALID_AUTHENTICATION"
    expired = emulator.call("Bearer nope", "list", lambda crm: (200, {}), method="GET", path="/crm/v3/objects/contacts")
    assert expired.status == 401 and "day(s) ago" in expired.body["message"]
    assert emulator.stats()["portals"][0]["api_calls"]["total"] == 0
