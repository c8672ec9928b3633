"""The HubSpot emulator driven through the real hubspot-api-client: OAuth, objects, search, batch, associations."""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiArchive,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException, UnauthorizedException
from hubspot.crm.properties import PropertyCreate

from crm_emulators.hubspot import EmulatorOptions, RunningEmulator, serve_in_background

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture(scope="module")
def server() -> Iterator[RunningEmulator]:
    # No search lag: these tests search right after writing on a real clock (the lag's own test is in
    # test_hubspot_emulator_control.py).
    options = EmulatorOptions(portals=2, search_per_second=None, ten_second_limit=None, search_lag_seconds=0)
    with serve_in_background(options) as running:
        yield running


@pytest.fixture
def running(server: RunningEmulator) -> RunningEmulator:
    server.emulator.reset()
    return server


def access_token(running: RunningEmulator, portal: int = 0) -> str:
    creds = running.credentials["portals"][portal]
    response = HubSpot(host=running.base_url).oauth.tokens_api.create(
        grant_type="refresh_token",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        refresh_token=creds["refresh_token"],
    )
    return str(response.access_token)


@pytest.fixture
def client(running: RunningEmulator) -> HubSpot:
    return HubSpot(access_token=access_token(running), host=running.base_url)


def advance(running: RunningEmulator, seconds: float) -> None:
    requests.post(f"{running.base_url}/__emulator/clock", json={"advance_seconds": seconds}, timeout=5).raise_for_status()


def search(client: HubSpot, **request: Any) -> Any:
    return client.crm.contacts.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(**request))


def failure(call: Callable[[], Any]) -> Any:
    """The ApiException a client call raises (each hubspot client package has its own exception classes)."""
    with pytest.raises(Exception) as caught:
        call()
    assert hasattr(caught.value, "status") and hasattr(caught.value, "body"), caught.value
    return caught.value


def upm_ids(page: Any) -> list[str]:
    return [r.properties["upm_id"] for r in page.results]


# ---- OAuth


def test_refresh_grant_issues_bearer_token_that_opens_the_portal(running: RunningEmulator) -> None:
    creds = running.credentials
    token = HubSpot(host=running.base_url).oauth.tokens_api.create(
        grant_type="refresh_token", client_id=creds["client_id"], client_secret=creds["client_secret"],
        refresh_token=creds["refresh_token"],
    )
    assert token.token_type == "bearer" and token.expires_in == 1800
    client = HubSpot(access_token=token.access_token, host=running.base_url)
    created = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "Ann@Example.com"}))
    assert created.properties["email"] == "ann@example.com"
    info = client.oauth.access_tokens_api.get(token.access_token)
    assert info.hub_id == creds["portals"][0]["portal_id"]


def test_expired_access_token_gets_401_until_refreshed(running: RunningEmulator, client: HubSpot) -> None:
    advance(running, 1801)
    with pytest.raises(UnauthorizedException) as caught:
        client.crm.contacts.basic_api.get_page()
    body = caught.value.body
    assert '"category":"EXPIRED_AUTHENTICATION"' in body
    assert re.search(r"The OAuth token used to make this call expired \d+ second\(s\) ago\.", body)
    client.access_token = access_token(running)
    assert client.crm.contacts.basic_api.get_page().results == []


def test_refresh_tokens_rotate_and_old_ones_stay_valid_by_default(running: RunningEmulator) -> None:
    creds = running.credentials
    tokens = HubSpot(host=running.base_url).oauth.tokens_api
    first = tokens.create(grant_type="refresh_token", client_id=creds["client_id"], client_secret=creds["client_secret"],
                          refresh_token=creds["refresh_token"])
    second = tokens.create(grant_type="refresh_token", client_id=creds["client_id"], client_secret=creds["client_secret"],
                           refresh_token=first.refresh_token)
    assert first.refresh_token != creds["refresh_token"] and second.refresh_token != first.refresh_token
    again = tokens.create(grant_type="refresh_token", client_id=creds["client_id"], client_secret=creds["client_secret"],
                          refresh_token=creds["refresh_token"])
    assert again.access_token not in (first.access_token, second.access_token)


def test_rotation_with_invalidation_refuses_a_used_refresh_token() -> None:
    with serve_in_background(EmulatorOptions(invalidate_rotated_refresh_tokens=True)) as running:
        creds = running.credentials
        tokens = HubSpot(host=running.base_url).oauth.tokens_api
        rotated = tokens.create(grant_type="refresh_token", client_id=creds["client_id"], client_secret=creds["client_secret"],
                                refresh_token=creds["refresh_token"])
        refused = failure(lambda: tokens.create(grant_type="refresh_token", client_id=creds["client_id"],
                                                client_secret=creds["client_secret"], refresh_token=creds["refresh_token"]))
        assert refused.status == 400 and '"status":"BAD_REFRESH_TOKEN"' in refused.body
        assert tokens.create(grant_type="refresh_token", client_id=creds["client_id"], client_secret=creds["client_secret"],
                             refresh_token=rotated.refresh_token).access_token


def test_unknown_refresh_token_is_bad_refresh_token(running: RunningEmulator) -> None:
    creds = running.credentials
    response = requests.post(creds["token_url"], data={
        "grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
        "refresh_token": "not-a-token",
    }, timeout=5)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "BAD_REFRESH_TOKEN" and body["message"] == "missing or unknown refresh token"
    assert body["error"] == "invalid_grant"
    wrong_secret = requests.post(creds["token_url"], data={
        "grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": "nope",
        "refresh_token": creds["refresh_token"],
    }, timeout=5)
    assert wrong_secret.status_code == 400 and wrong_secret.json()["status"] == "BAD_CLIENT_SECRET"


def test_authorization_code_flow_installs_into_the_chosen_portal(running: RunningEmulator) -> None:
    creds = running.credentials
    redirect = requests.get(creds["authorize_url"], params={
        "client_id": creds["client_id"], "redirect_uri": creds["redirect_uri"], "scope": "oauth", "state": "xyz", "portal": "1",
    }, allow_redirects=False, timeout=5)
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(creds["redirect_uri"] + "?") and "state=xyz" in location
    code = re.search(r"code=([^&]+)", location).group(1)  # type: ignore[union-attr]
    tokens = HubSpot(host=running.base_url).oauth.tokens_api
    token = tokens.create(grant_type="authorization_code", code=code, redirect_uri=creds["redirect_uri"],
                          client_id=creds["client_id"], client_secret=creds["client_secret"])
    info = HubSpot(host=running.base_url).oauth.access_tokens_api.get(token.access_token)
    assert info.hub_id == creds["portals"][1]["portal_id"]
    reused = failure(lambda: tokens.create(grant_type="authorization_code", code=code, redirect_uri=creds["redirect_uri"],
                                           client_id=creds["client_id"], client_secret=creds["client_secret"]))
    assert '"status":"BAD_AUTH_CODE"' in reused.body


def test_private_app_token_never_expires(running: RunningEmulator) -> None:
    advance(running, 400 * 86_400)
    client = HubSpot(access_token=running.credentials["portals"][0]["private_app_token"], host=running.base_url)
    assert client.crm.contacts.basic_api.get_page().results == []
    with pytest.raises(UnauthorizedException):
        HubSpot(access_token="made-up", host=running.base_url).crm.contacts.basic_api.get_page()


def test_portals_are_isolated(running: RunningEmulator, client: HubSpot) -> None:
    other = HubSpot(access_token=access_token(running, 1), host=running.base_url)
    mine = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "a@x.com", "upm_id": "U1"}))
    assert other.crm.contacts.basic_api.get_page().results == []
    assert search(other, filter_groups=[{"filters": [{"propertyName": "upm_id", "operator": "EQ", "value": "U1"}]}]).total == 0
    with pytest.raises(NotFoundException):
        other.crm.contacts.basic_api.get_by_id(mine.id)
    theirs = other.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "a@x.com", "upm_id": "U1"}))
    assert theirs.properties["hs_object_id"] == theirs.id
    stats = running.emulator.stats()["portals"]
    assert [p["records"]["contacts"]["active"] for p in stats] == [1, 1]
    assert stats[0]["portal_id"] != stats[1]["portal_id"]


# ---- objects


def test_crud_timestamps_and_archive_keeps_modified_date(running: RunningEmulator, client: HubSpot) -> None:
    api = client.crm.contacts.basic_api
    created = api.create(SimplePublicObjectInputForCreate(properties={"email": "b@x.com", "firstname": "Bo", "upm_id": "U2"}))
    raw = requests.get(f"{running.base_url}/crm/v3/objects/contacts/{created.id}",
                       headers={"Authorization": f"Bearer {client.access_token}"}, timeout=5).json()
    for stamp in (raw["createdAt"], raw["updatedAt"], raw["properties"]["hs_lastmodifieddate"], raw["properties"]["lastmodifieddate"]):
        assert ISO_MS.match(stamp)
    advance(running, 60)
    updated = api.update(created.id, SimplePublicObjectInput(properties={"firstname": "Bob"}))
    assert updated.properties["firstname"] == "Bob" and updated.updated_at > created.updated_at
    modified = api.get_by_id(created.id, properties=["hs_lastmodifieddate"]).properties["hs_lastmodifieddate"]
    advance(running, 60)
    api.archive(created.id)
    with pytest.raises(NotFoundException):
        api.get_by_id(created.id)
    archived = api.get_page(archived=True, properties=["hs_lastmodifieddate", "firstname"])
    assert [r.id for r in archived.results] == [created.id]
    assert archived.results[0].archived is True and archived.results[0].archived_at > updated.updated_at
    assert archived.results[0].properties["hs_lastmodifieddate"] == modified
    assert api.get_page().results == []
    assert search(client, filter_groups=[{"filters": [{"propertyName": "upm_id", "operator": "EQ", "value": "U2"}]}]).total == 0


def test_list_pages_by_id_with_link(running: RunningEmulator, client: HubSpot) -> None:
    ids = [running.emulator.admin_upsert(0, "companies", {"name": f"Co {i}", "upm_id": f"C{i}"}) for i in range(5)]
    seen, after = [], None
    while True:
        page = client.crm.companies.basic_api.get_page(limit=2, after=after, properties=["name"])
        seen.extend(r.id for r in page.results)
        if page.paging is None:
            break
        assert page.paging.next.link.endswith(f"after={page.paging.next.after}")
        after = page.paging.next.after
    assert seen == ids
    assert failure(lambda: client.crm.companies.basic_api.get_page(limit=101)).status == 400


def test_unknown_property_is_a_validation_error(client: HubSpot) -> None:
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"testproperty": "x"}))
    assert caught.value.status == 400
    assert '"category":"VALIDATION_ERROR"' in caught.value.body and "PROPERTY_DOESNT_EXIST" in caught.value.body


def test_duplicate_unique_value_conflicts(running: RunningEmulator, client: HubSpot) -> None:
    existing = running.emulator.admin_upsert(0, "contacts", {"email": "c@x.com", "upm_id": "U3"})
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"upm_id": "U3"}))
    assert caught.value.status == 409 and f"Existing ID: {existing}" in caught.value.body
    with pytest.raises(ApiException) as by_email:
        client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "C@x.com"}))
    assert by_email.value.status == 409 and '"category":"CONFLICT"' in by_email.value.body


def test_properties_api_describes_and_accepts_custom_properties(client: HubSpot) -> None:
    props = {p.name: p for p in client.crm.properties.core_api.get_all("contacts").results}
    assert props["upm_id"].has_unique_value is True
    assert {"partner_account", "campaign_id", "offer_id", "tactic_id", "approval_status", "email", "lastmodifieddate"} <= set(props)
    created = client.crm.properties.core_api.create("contacts", PropertyCreate(
        name="region", label="Region", type="string", field_type="text", group_name="contactinformation"))
    assert created.name == "region"
    contact = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"region": "EMEA"}))
    assert contact.properties["region"] == "EMEA"
    assert failure(lambda: client.crm.properties.core_api.create("contacts", PropertyCreate(
        name="region", label="Region", type="string", field_type="text", group_name="contactinformation"))).status == 409


# ---- search


@pytest.fixture
def people(running: RunningEmulator) -> dict[str, str]:
    """Five contacts written a minute apart: upm_id -> hs_lastmodifieddate."""
    rows = [
        {"upm_id": "P1", "firstname": "Ann", "lastname": "Zed", "email": "ann@alpha.com", "partner_account": "north"},
        {"upm_id": "P2", "firstname": "Bob", "lastname": "Young", "email": "bob@beta.com", "partner_account": "south"},
        {"upm_id": "P3", "firstname": "Cid", "lastname": "Xu", "email": "cid@alpha.com"},
        {"upm_id": "P4", "firstname": "Dee", "lastname": "Wolf", "email": "dee@gamma.com", "partner_account": "north"},
        {"upm_id": "P5", "firstname": "Eve", "lastname": "Vale", "email": "eve@beta.com", "partner_account": "east"},
    ]
    stamps = {}
    for row in rows:
        record_id = running.emulator.admin_upsert(0, "contacts", row)
        stamps[row["upm_id"]] = next(r for r in running.emulator.records(0, "contacts") if r["id"] == record_id)["properties"]["hs_lastmodifieddate"]
        advance(running, 60)
    return stamps


def _ms(iso: str) -> str:
    from datetime import datetime

    return str(int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000))


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"propertyName": "firstname", "operator": "EQ", "value": "bob"}, ["P2"]),
        ({"propertyName": "partner_account", "operator": "NEQ", "value": "north"}, ["P2", "P3", "P5"]),
        ({"propertyName": "lastname", "operator": "GT", "value": "Xu"}, ["P1", "P2"]),
        ({"propertyName": "lastname", "operator": "LTE", "value": "Wolf"}, ["P4", "P5"]),
        ({"propertyName": "partner_account", "operator": "IN", "values": ["north", "east"]}, ["P1", "P4", "P5"]),
        ({"propertyName": "partner_account", "operator": "NOT_IN", "values": ["north"]}, ["P2", "P3", "P5"]),
        ({"propertyName": "partner_account", "operator": "HAS_PROPERTY"}, ["P1", "P2", "P4", "P5"]),
        ({"propertyName": "partner_account", "operator": "NOT_HAS_PROPERTY"}, ["P3"]),
        ({"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "alpha"}, ["P1", "P3"]),
        ({"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@beta.com"}, ["P2", "P5"]),
    ],
)
def test_search_operators_on_text(client: HubSpot, people: dict[str, str], flt: dict[str, Any], expected: list[str]) -> None:
    page = search(client, filter_groups=[{"filters": [flt]}], properties=["upm_id"], sorts=[{"propertyName": "upm_id", "direction": "ASCENDING"}])
    assert upm_ids(page) == expected and page.total == len(expected)


def test_search_operators_on_dates_take_epoch_ms_and_iso(client: HubSpot, people: dict[str, str]) -> None:
    def run(flt: dict[str, Any]) -> list[str]:
        page = search(client, filter_groups=[{"filters": [flt]}], properties=["upm_id"],
                      sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}])
        return upm_ids(page)

    p3 = people["P3"]
    assert run({"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": _ms(p3)}) == ["P3", "P4", "P5"]
    assert run({"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": p3}) == ["P4", "P5"]
    assert run({"propertyName": "lastmodifieddate", "operator": "LT", "value": _ms(p3)}) == ["P1", "P2"]
    assert run({"propertyName": "hs_lastmodifieddate", "operator": "LTE", "value": p3}) == ["P1", "P2", "P3"]
    assert run({"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": _ms(p3)}) == ["P3"]
    assert run({"propertyName": "hs_lastmodifieddate", "operator": "BETWEEN", "value": people["P2"], "highValue": _ms(people["P4"])}) == ["P2", "P3", "P4"]


def test_search_or_of_groups_and_within_group(client: HubSpot, people: dict[str, str]) -> None:
    page = search(client, properties=["upm_id"], sorts=[{"propertyName": "upm_id", "direction": "DESCENDING"}], filter_groups=[
        {"filters": [{"propertyName": "partner_account", "operator": "EQ", "value": "north"},
                     {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "gamma"}]},
        {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Cid"}]},
    ])
    assert upm_ids(page) == ["P4", "P3"]


def test_search_sorts_pages_and_selects_properties(client: HubSpot, people: dict[str, str]) -> None:
    collected, after = [], None
    while True:
        page = search(client, sorts=[{"propertyName": "lastname", "direction": "ASCENDING"}], properties=["upm_id", "lastname"],
                      limit=2, after=after)
        assert page.total == 5
        collected.extend(upm_ids(page))
        assert set(page.results[0].properties) == {"upm_id", "lastname", "hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"}
        if page.paging is None:
            break
        after = page.paging.next.after
    assert collected == ["P5", "P4", "P3", "P2", "P1"]
    default = search(client, limit=1)
    assert {"email", "firstname", "lastname", "hs_object_id"} <= set(default.results[0].properties)


def test_search_limits_are_enforced(client: HubSpot, people: dict[str, str]) -> None:
    flt = {"propertyName": "firstname", "operator": "HAS_PROPERTY"}

    def status(groups: list[dict[str, Any]], limit: int = 10) -> int:
        try:
            search(client, filter_groups=groups, limit=limit)
        except ApiException as exc:
            assert '"category":"VALIDATION_ERROR"' in exc.body
            return int(exc.status)
        return 200

    assert status([{"filters": [flt] * 5}] * 5) == 200
    assert status([{"filters": [flt]}] * 6) == 400
    assert status([{"filters": [flt] * 11}]) == 400
    assert status([{"filters": [flt] * 6}] * 5) == 400
    assert status([{"filters": [flt]}], limit=200) == 200
    assert status([{"filters": [flt]}], limit=201) == 400


def test_search_cannot_page_past_10000_results(running: RunningEmulator, client: HubSpot) -> None:
    for i in range(10_050):
        running.emulator.admin_upsert(0, "contacts", {"upm_id": f"S{i:05d}"})
    request = {"filter_groups": [{"filters": [{"propertyName": "upm_id", "operator": "HAS_PROPERTY"}]}],
               "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "properties": ["upm_id"], "limit": 200}
    after, seen = None, []
    for _ in range(50):
        page = search(client, after=after, **request)
        assert page.total == 10_050
        seen.extend(upm_ids(page))
        after = page.paging.next.after
    assert after == "10000" and seen == [f"S{i:05d}" for i in range(10_000)]
    refused = failure(lambda: search(client, after=after, **request))
    assert refused.status == 400 and '"category":"VALIDATION_ERROR"' in refused.body and "maximum of 10000" in refused.body
    assert failure(lambda: search(client, after="9900", **request)).status == 400
    assert len(search(client, after="9900", **{**request, "limit": 100}).results) == 100


def test_search_on_number_property(running: RunningEmulator, client: HubSpot) -> None:
    for name, amount in (("small", "5"), ("medium", "50.5"), ("large", "500")):
        running.emulator.admin_upsert(0, "deals", {"dealname": name, "amount": amount})
    page = client.crm.deals.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "amount", "operator": "GT", "value": "10"}]}],
        sorts=[{"propertyName": "amount", "direction": "DESCENDING"}]))
    assert [r.properties["dealname"] for r in page.results] == ["large", "medium"]


# ---- batch


def test_batch_over_100_inputs_is_refused(client: HubSpot) -> None:
    inputs = [{"properties": {"firstname": str(i)}} for i in range(101)]
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert caught.value.status == 400
    assert "The maximum number of inputs supported in a batch is 100" in caught.value.body
    assert client.crm.contacts.basic_api.get_page().results == []


def test_batch_create_multi_status_with_trace_ids(running: RunningEmulator, client: HubSpot) -> None:
    result = client.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        {"objectWriteTraceId": "549b1c2a9350", "properties": {"firstname": "1"}},
        {"objectWriteTraceId": "549b1c2a9351", "properties": {"missing": "1"}},
    ]))
    assert result.num_errors == 1 and len(result.results) == 1
    error = result.errors[0]
    assert error.status == "error" and error.category == "VALIDATION_ERROR"
    assert error.context == {"objectWriteTraceId": ["549b1c2a9351"]}
    assert 'Property \\"missing\\" does not exist' in error.message
    assert running.emulator.stats()["portals"][0]["records"]["contacts"]["active"] == 1


def test_batch_create_without_trace_ids_fails_as_a_whole(client: HubSpot) -> None:
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
            {"properties": {"firstname": "ok"}}, {"properties": {"missing": "1"}}]))
    assert caught.value.status == 400 and "PROPERTY_DOESNT_EXIST" in caught.value.body
    assert client.crm.contacts.basic_api.get_page().results == []


def test_batch_create_reports_unique_conflicts_per_record(running: RunningEmulator, client: HubSpot) -> None:
    existing = running.emulator.admin_upsert(0, "contacts", {"upm_id": "U9"})
    result = client.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        {"objectWriteTraceId": "a", "properties": {"upm_id": "U9"}},
        {"objectWriteTraceId": "b", "properties": {"upm_id": "U10"}},
    ]))
    assert [r.properties["upm_id"] for r in result.results] == ["U10"]
    assert result.errors[0].category == "CONFLICT"
    assert result.errors[0].context == {"objectWriteTraceId": ["a"], "existingId": [existing]}


def test_upsert_by_id_property_reports_new(running: RunningEmulator, client: HubSpot) -> None:
    batch = client.crm.contacts.batch_api
    first = batch.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        {"idProperty": "upm_id", "id": "U1", "properties": {"firstname": "Ann"}}]))
    assert first.results[0].new is True and first.results[0].properties["upm_id"] == "U1"
    advance(running, 5)
    second = batch.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        {"idProperty": "upm_id", "id": "U1", "properties": {"firstname": "Anne"}},
        {"idProperty": "upm_id", "id": "U2", "properties": {"firstname": "Ben"}}]))
    by_id = {r.properties["upm_id"]: r for r in second.results}
    assert by_id["U1"].new is False and by_id["U1"].id == first.results[0].id and by_id["U2"].new is True
    assert by_id["U1"].properties["firstname"] == "Anne" and by_id["U1"].updated_at > first.results[0].updated_at
    with pytest.raises(ApiException) as duplicate:
        batch.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
            {"idProperty": "upm_id", "id": "U3", "properties": {}}, {"idProperty": "upm_id", "id": "U3", "properties": {}}]))
    assert duplicate.value.status == 400 and "Duplicate IDs found in batch input: [U3]" in duplicate.value.body
    with pytest.raises(ApiException) as not_unique:
        batch.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[{"idProperty": "firstname", "id": "Ann", "properties": {}}]))
    assert not_unique.value.status == 400


def test_batch_read_and_update_report_missing_records(running: RunningEmulator, client: HubSpot) -> None:
    known = running.emulator.admin_upsert(0, "contacts", {"upm_id": "R1", "firstname": "Rae"})
    read = client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": "R1"}, {"id": "R404"}], id_property="upm_id", properties=["firstname"]))
    assert [r.id for r in read.results] == [known] and read.results[0].properties["firstname"] == "Rae"
    assert read.errors[0].category == "OBJECT_NOT_FOUND" and read.errors[0].context == {"ids": ["R404"]}
    update = client.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": known, "properties": {"lastname": "Roe"}}, {"id": "999", "properties": {"lastname": "Nobody"}}]))
    assert update.results[0].properties["lastname"] == "Roe"
    assert "Could not get some CONTACT objects" in update.errors[0].message
    client.crm.contacts.batch_api.archive({"inputs": [{"id": known}]})
    assert client.crm.contacts.basic_api.get_page().results == []


# ---- associations


def test_associations_round_trip(running: RunningEmulator, client: HubSpot) -> None:
    em = running.emulator
    contact = em.admin_upsert(0, "contacts", {"upm_id": "A1"})
    lonely = em.admin_upsert(0, "contacts", {"upm_id": "A2"})
    company = em.admin_upsert(0, "companies", {"name": "Acme"})
    deal = em.admin_upsert(0, "deals", {"dealname": "Big"})
    note = em.admin_upsert(0, "notes", {"hs_note_body": "hi", "hs_timestamp": "2026-01-01T00:00:00Z"})
    v4 = client.crm.associations.v4
    v4.basic_api.create_default("contacts", contact, "companies", company)
    labels = v4.basic_api.create("contacts", contact, "companies", company,
                                 [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)])
    assert labels.labels == ["Primary"]
    created = v4.batch_api.create("deals", "contacts", BatchInputPublicAssociationMultiPost(inputs=[
        {"from": {"id": deal}, "to": {"id": contact}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}]))
    assert created.status == "COMPLETE"
    v4.basic_api.create("notes", note, "deals", deal, [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=214)])

    read = v4.batch_api.get_page("contacts", "companies", BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[{"id": contact}, {"id": lonely}]))
    assert [str(t.to_object_id) for t in read.results[0].to] == [company]
    assert {t.type_id for t in read.results[0].to[0].association_types} == {1, 279}
    assert read.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"
    reverse = v4.basic_api.get_page("companies", company, "contacts")
    assert {t.type_id for t in reverse.results[0].association_types} == {2, 280}
    with_assoc = client.crm.contacts.basic_api.get_by_id(contact, associations=["companies", "deals"])
    assert {(a.id, a.type) for a in with_assoc.associations["companies"].results} == {
        (company, "contact_to_company"), (company, "contact_to_company_unlabeled")}
    assert [a.type for a in with_assoc.associations["deals"].results] == ["contact_to_deal"]
    assert [str(t.to_object_id) for t in v4.basic_api.get_page("deals", deal, "notes").results] == [note]

    v4.basic_api.archive("contacts", contact, "companies", company)
    assert v4.basic_api.get_page("contacts", contact, "companies").results == []
    v4.batch_api.create_default("companies", "contacts", BatchInputPublicDefaultAssociationMultiPost(
        inputs=[{"from": {"id": company}, "to": {"id": lonely}}]))
    assert [t.type_id for t in v4.basic_api.get_page("contacts", lonely, "companies").results[0].association_types] == [279]
    v4.batch_api.create("contacts", "companies", BatchInputPublicAssociationMultiPost(inputs=[
        {"from": {"id": lonely}, "to": {"id": company}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]))
    v4.batch_api.archive_labels("contacts", "companies", BatchInputPublicAssociationMultiPost(inputs=[
        {"from": {"id": lonely}, "to": {"id": company}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}]))
    assert [t.type_id for t in v4.basic_api.get_page("contacts", lonely, "companies").results[0].association_types] == [1]
    v4.batch_api.archive("contacts", "companies", BatchInputPublicAssociationMultiArchive(
        inputs=[{"from": {"id": lonely}, "to": [{"id": company}]}]))
    assert v4.basic_api.get_page("contacts", lonely, "companies").results == []
    assert running.emulator.stats()["portals"][0]["associations"] == 2
    bad_type = failure(lambda: v4.basic_api.create(
        "contacts", contact, "deals", deal, [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=279)]))
    assert bad_type.status == 400
