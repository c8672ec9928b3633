"""The Dataverse emulator over real HTTPS: tokens, the Web API's shapes, paging, change tracking,
alternate-key upserts, $batch, service protection and the shared control endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from crm_emulators.dynamics import EmulatorOptions, RunningEmulator, serve_in_background

API = "/api/data/v9.2/"


class Client:
    def __init__(self, running: RunningEmulator):
        self.running = running
        self.creds = running.credentials
        self.http = requests.Session()
        self.token = self.client_credentials().json()["access_token"]

    def client_credentials(self, secret: str | None = None, tenant: str | None = None) -> requests.Response:
        tenant = tenant or self.creds["tenant_id"]
        return self.http.post(f"{self.running.base_url}/{tenant}/oauth2/v2.0/token", verify=self.creds["ca_file"], data={
            "grant_type": "client_credentials", "client_id": self.creds["client_id"],
            "client_secret": secret or self.creds["client_secret"], "scope": f"{self.creds['resource']}/.default"})

    def call(self, method: str, path: str, prefer: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **({"Prefer": prefer} if prefer else {}), **kwargs.pop("headers", {})}
        url = path if path.startswith("https://") else f"{self.running.base_url}{API}{path}"
        return self.http.request(method, url, headers=headers, verify=self.creds["ca_file"], timeout=10, **kwargs)

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, f"{self.running.base_url}/__emulator/{path}", verify=self.creds["ca_file"],
                                 timeout=10, **kwargs)


@pytest.fixture(scope="module")
def served() -> Iterator[RunningEmulator]:
    with serve_in_background(EmulatorOptions(requests_per_window=50, token_ttl=600)) as running:
        yield running


@pytest.fixture
def client(served: RunningEmulator) -> Client:
    served.emulator.reset()
    return Client(served)


def batch_body(parts: list[str], boundary: str = "b1") -> bytes:
    return ("".join(f"--{boundary}\r\n{part}" for part in parts) + f"--{boundary}--\r\n").encode()


def request_part(method: str, path: str, body: str | None = None) -> str:
    text = f"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n{method} {API}{path} HTTP/1.1\r\n"
    return text + (f"Content-Type: application/json\r\n\r\n{body}\r\n" if body is not None else "\r\n")


def test_tokens_come_from_the_tenants_endpoint_and_expire(client: Client) -> None:
    token = client.client_credentials().json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 600
    refused = client.client_credentials(secret="wrong")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert refused.json()["error_description"].startswith("AADSTS7000215")
    assert client.client_credentials(tenant="nobody").json()["error_codes"] == [90002]

    assert client.call("GET", "leads").status_code == 200
    client.control("POST", "clock", json={"advance_seconds": 601})
    expired = client.call("GET", "leads")
    assert expired.status_code == 401 and expired.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")


def test_pages_follow_next_links_in_order_with_context_and_etags(client: Client) -> None:
    for n in range(5):
        client.running.emulator.admin_upsert("lead", {"lastname": f"L{n}", "upm_id": f"k{n}"})
    page = client.call("GET", "leads?$select=lastname&$orderby=lastname desc", prefer="odata.maxpagesize=2")
    seen = []
    while True:
        body = page.json()
        assert body["@odata.context"].endswith("$metadata#leads(lastname)")
        assert all(row["@odata.etag"].startswith('W/"') and "leadid" in row for row in body["value"])
        seen += [row["lastname"] for row in body["value"]]
        if "@odata.nextLink" not in body:
            break
        page = client.call("GET", body["@odata.nextLink"], prefer="odata.maxpagesize=2")
    assert seen == ["L4", "L3", "L2", "L1", "L0"]
    refused = client.call("GET", "leads?$select=nosuch").json()
    assert refused["error"]["code"].startswith("0x") and "nosuch" in refused["error"]["message"]


def test_change_tracking_gives_changes_and_removed_entities_since_a_delta_link(client: Client) -> None:
    emulator = client.running.emulator
    first = emulator.admin_upsert("account", {"name": "A"})
    second = emulator.admin_upsert("account", {"name": "B"})
    initial = client.call("GET", "accounts?$select=name", prefer="odata.track-changes").json()
    assert [row["name"] for row in initial["value"]] == ["A", "B"]
    delta_link = initial["@odata.deltaLink"]
    assert "$deltatoken=" in requests.utils.unquote(delta_link)

    emulator.admin_upsert("account", {"name": "A2"}, id=first)
    emulator.admin_delete("account", second)
    emulator.admin_upsert("account", {"name": "C"})
    delta = client.call("GET", delta_link).json()

    assert delta["@odata.context"].endswith("/$delta")
    assert [row.get("name") for row in delta["value"][:2]] == ["A2", "C"]
    assert delta["value"][2] == {"@odata.context": delta["value"][2]["@odata.context"], "id": second, "reason": "deleted"}
    assert delta["value"][2]["@odata.context"].endswith("#accounts/$deletedEntity")
    assert client.call("GET", delta["@odata.deltaLink"]).json()["value"] == []
    refused = client.call("GET", "accounts?$filter=name eq 'A'", prefer="odata.track-changes")
    assert refused.status_code == 400 and "isn't supported when Change Tracking is enabled" in refused.json()["error"]["message"]


def test_a_paged_track_changes_read_ends_with_the_delta_link_on_its_last_page(client: Client) -> None:
    emulator = client.running.emulator
    ids = [emulator.admin_upsert("lead", {"lastname": f"L{n}", "upm_id": f"k{n}"}) for n in range(5)]

    def pages(url: str) -> list[dict[str, Any]]:
        bodies = [client.call("GET", url, prefer="odata.track-changes,odata.maxpagesize=2").json()]
        while "@odata.nextLink" in bodies[-1]:
            assert "@odata.deltaLink" not in bodies[-1]
            bodies.append(client.call("GET", bodies[-1]["@odata.nextLink"], prefer="odata.track-changes,odata.maxpagesize=2").json())
        return bodies

    initial = pages("leads?$select=lastname")
    assert [len(b["value"]) for b in initial] == [2, 2, 1] and "@odata.deltaLink" in initial[-1]
    assert [row["lastname"] for b in initial for row in b["value"]] == [f"L{n}" for n in range(5)]
    for n in (0, 2, 4):
        emulator.admin_delete("lead", ids[n])
    emulator.admin_upsert("lead", {"lastname": "L1 again"}, id=ids[1])

    delta = pages(initial[-1]["@odata.deltaLink"])
    rows = [row for b in delta for row in b["value"]]
    assert [len(b["value"]) for b in delta] == [2, 2]
    assert rows[0]["lastname"] == "L1 again"
    assert [(r["id"], r["reason"]) for r in rows[1:]] == [(ids[n], "deleted") for n in (0, 2, 4)]
    assert client.call("GET", delta[-1]["@odata.deltaLink"]).json()["value"] == []


def test_a_delta_link_past_the_change_tracking_retention_is_refused_as_expired(client: Client) -> None:
    emulator = client.running.emulator
    emulator.admin_upsert("lead", {"lastname": "L0"})
    link = client.call("GET", "leads?$select=lastname", prefer="odata.track-changes").json()["@odata.deltaLink"]
    week = emulator.options.change_tracking_days * 86400

    client.control("POST", "clock", json={"advance_seconds": week - 60})
    client.token = client.client_credentials().json()["access_token"]
    fresh = client.call("GET", link)
    assert fresh.status_code == 200, fresh.text
    client.control("POST", "clock", json={"advance_seconds": 120})
    client.token = client.client_credentials().json()["access_token"]
    expired = client.call("GET", link)

    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == "0x80044352"
    assert "expired" in expired.json()["error"]["message"]
    assert client.call("GET", fresh.json()["@odata.deltaLink"]).status_code == 200
    assert client.call("GET", "leads?$deltatoken=garbage").status_code == 400


def test_rows_written_between_pages_neither_repeat_nor_hide_the_rows_after_the_skip_token(client: Client) -> None:
    emulator = client.running.emulator
    for n in (1, 3, 5, 7):
        emulator.admin_upsert("lead", {"lastname": f"L{n}", "upm_id": f"k{n}"})
    first = client.call("GET", "leads?$select=lastname&$orderby=lastname asc", prefer="odata.maxpagesize=2").json()
    assert [row["lastname"] for row in first["value"]] == ["L1", "L3"]
    emulator.admin_upsert("lead", {"lastname": "L0", "upm_id": "k0"})  # before the skip token: not seen
    emulator.admin_upsert("lead", {"lastname": "L4", "upm_id": "k4"})  # after it: seen in order
    rest: list[str] = []
    url = first["@odata.nextLink"]
    while url:
        body = client.call("GET", url, prefer="odata.maxpagesize=2").json()
        rest += [row["lastname"] for row in body["value"]]
        url = body.get("@odata.nextLink")
    assert rest == ["L4", "L5", "L7"]


def test_an_alternate_key_upsert_creates_then_updates_and_keys_stay_unique(client: Client) -> None:
    created = client.call("PATCH", "contacts(upm_id='c-1')", prefer="return=representation", json={"lastname": "One"})
    updated = client.call("PATCH", "contacts(upm_id='c-1')", prefer="return=representation", json={"lastname": "Uno"})
    assert (created.status_code, updated.status_code) == (201, 200)
    assert created.json()["contactid"] == updated.json()["contactid"]
    other = client.call("PATCH", "contacts(upm_id='c-2')", json={"lastname": "Two"})
    assert other.status_code == 204 and other.headers["OData-EntityId"].endswith(")")
    other_id = other.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    clash = client.call("PATCH", f"contacts({other_id})", headers={"If-Match": "*"}, json={"upm_id": "c-1"})
    assert clash.status_code == 412 and clash.json()["error"]["code"] == "0x80060892"
    missing = client.call("PATCH", "contacts(upm_id='nobody')", headers={"If-Match": "*"}, json={"lastname": "X"})
    assert missing.status_code == 404


def test_batch_continues_on_error_only_when_asked_and_change_sets_are_atomic(client: Client) -> None:
    parts = [request_part("PATCH", "leads(upm_id='a')", '{"lastname": "A"}'),
             request_part("PATCH", "leads(upm_id='b')", '{"bogus": 1}'),
             request_part("PATCH", "leads(upm_id='c')", '{"lastname": "C"}')]
    headers = {"Content-Type": "multipart/mixed; boundary=b1"}
    stopped = client.call("POST", "$batch", data=batch_body(parts), headers=headers)
    assert stopped.status_code == 200 and stopped.text.count("HTTP/1.1 ") == 2, "stops at the first failure"
    assert sorted(r["upm_id"] for r in client.running.emulator.records("lead")) == ["a"]
    went_on = client.call("POST", "$batch", data=batch_body(parts), headers=headers, prefer="odata.continue-on-error")
    assert [line.split(" ")[1] for line in went_on.text.splitlines() if line.startswith("HTTP/1.1 ")] == ["204", "400", "204"]
    assert sorted(r["upm_id"] for r in client.running.emulator.records("lead")) == ["a", "c"]

    change_set = ("Content-Type: multipart/mixed; boundary=cs1\r\n\r\n"
                  + "".join(f"--cs1\r\n{p}" for p in [request_part("PATCH", "leads(upm_id='d')", '{"lastname": "D"}'),
                                                      request_part("PATCH", "leads(upm_id='e')", '{"bogus": 1}')])
                  + "--cs1--\r\n")
    atomic = client.call("POST", "$batch", data=batch_body([change_set]), headers=headers)
    assert "HTTP/1.1 400" in atomic.text and "HTTP/1.1 204" not in atomic.text
    assert sorted(r["upm_id"] for r in client.running.emulator.records("lead")) == ["a", "c"], "d rolled back"

    too_many = batch_body([request_part("GET", "leads")] * 1001)
    refused = client.call("POST", "$batch", data=too_many, headers=headers)
    assert refused.status_code == 400 and "1000" in refused.json()["error"]["message"]


def test_service_protection_answers_429_with_retry_after(client: Client) -> None:
    answers = [client.call("GET", "leads").status_code for _ in range(51)]
    assert answers[:50] == [200] * 50 and answers[50] == 429
    throttled = client.call("GET", "leads")
    assert int(throttled.headers["Retry-After"]) > 0
    assert throttled.json()["error"]["code"] == "0x80072322"
    client.control("POST", "clock", json={"advance_seconds": 301})
    assert client.call("GET", "leads").status_code == 200


def test_faults_through_the_shared_control_endpoints(client: Client) -> None:
    armed = client.control("POST", "faults", json={"type": "http_error", "status": 503, "count": 2})
    assert armed.status_code == 201 and armed.json()["faults"][0]["count"] == 2
    assert [client.call("GET", "leads").status_code for _ in range(3)] == [503, 503, 200]
    client.control("POST", "faults", json={"faults": [{"type": "record_error", "values": ["bad"], "message": "Closed"}]})
    refused = client.call("PATCH", "leads(upm_id='bad')", json={"lastname": "X"})
    assert refused.status_code == 400 and refused.json()["error"]["message"] == "Closed"
    assert client.control("POST", "faults", json={"type": "nonsense"}).status_code == 400
    client.control("POST", "faults", json={"type": "drop"})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.call("PATCH", "leads(upm_id='dropped')", json={"lastname": "D"})
    assert [r["upm_id"] for r in client.running.emulator.records("lead")] == ["dropped"], "carried out, answer lost"
    assert client.control("DELETE", "faults").status_code == 204
    stats = client.control("GET", "stats").json()  # the refused write and the dropped one: both carried to the API
    assert stats["api_calls"]["by_category"]["upsert"] == 2 and stats["faults"]["armed"] == []
    assert client.control("POST", "reset").json()["records"]["lead"] == 0


def test_the_plugin_found_by_entry_point_serves_the_demo_seed(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from connector.daemon.emulators import emulator_plugin

    plugin = emulator_plugin("dynamics")
    with plugin.serve(None, tmp_path, 0) as running:
        client = Client(running)
        names = [row["name"] for row in client.call("GET", "accounts?$select=name").json()["value"]]
        assert sorted(names) == ["Fabrikam Partners", "Northwind Traders"]
        assert running.credentials["token_url"].endswith("/oauth2/v2.0/token") and (tmp_path / "ca.pem").exists()
    assert "Dataverse" in CliRunner().invoke(plugin.command(), ["--help"]).output
