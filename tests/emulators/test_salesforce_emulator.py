"""The Salesforce emulator driven by the real simple-salesforce over HTTPS, connected with nothing but the
credentials the emulator writes (and its CA)."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from crm_emulators.salesforce import EmulatorOptions, RunningEmulator, serve_in_background

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "crm-fixtures"
CREDENTIAL_KEYS = {"instance_url", "token_url", "client_id", "client_secret", "refresh_token", "ca_file"}
SYSTEM_FIELDS = {"Id", "CreatedDate", "SystemModstamp", "LastModifiedDate", "LastModifiedById", "IsDeleted"}
INVALID_FIELD = "sf_error_invalid_field.json"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def http(ca_file: str) -> requests.Session:
    """A session trusting only the emulator's CA. trust_env is off because requests lets REQUESTS_CA_BUNDLE /
    CURL_CA_BUNDLE from the environment override Session.verify (psf/requests#3829)."""
    session = requests.Session()
    session.verify = ca_file
    session.trust_env = False
    return session


def refresh(session: requests.Session, creds: dict[str, str], refresh_token: str | None = None) -> requests.Response:
    return session.post(
        creds["token_url"],
        data={
            "grant_type": "refresh_token",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": refresh_token or creds["refresh_token"],
        },
    )


class Client:
    """simple-salesforce plus the plain session, connected from the credentials file alone."""

    def __init__(self, running: RunningEmulator) -> None:
        creds = json.loads((running.state_dir / "credentials.json").read_text())
        assert set(creds) == CREDENTIAL_KEYS
        self.creds = creds
        self.session = http(creds["ca_file"])
        self.token = refresh(self.session, creds).json()
        self.sf = Salesforce(
            instance_url=self.token["instance_url"], session_id=self.token["access_token"], session=self.session
        )

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.creds["instance_url"] + path, **kwargs)

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "/__emulator/stats").json()

    def advance(self, seconds: float) -> datetime:
        now = self.control("POST", "/__emulator/clock", json={"advance_seconds": seconds}).json()["now"]
        return datetime.strptime(now, "%Y-%m-%dT%H:%M:%S.000+0000").replace(tzinfo=timezone.utc)

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.sf.session_id}", **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.sf.base_url}{path}", headers=headers, **kwargs)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., RunningEmulator]]:
    with ExitStack() as stack:

        def _start(**options: Any) -> RunningEmulator:
            return stack.enter_context(serve_in_background(EmulatorOptions(**options), state_dir=tmp_path))

        yield _start


@pytest.fixture
def running(start: Callable[..., RunningEmulator]) -> RunningEmulator:
    return start()


@pytest.fixture
def client(running: RunningEmulator) -> Client:
    return Client(running)


def seed_leads(running: RunningEmulator, count: int, prefix: str = "U") -> list[str]:
    rows = [{"LastName": f"Lead {i}", "Company": "Acme", "UPM_Id__c": f"{prefix}{i:05d}"} for i in range(count)]
    return running.emulator.seed({"Lead": rows})["Lead"]


def lead(upm_id: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "UPM_Id__c": upm_id, "LastName": "Lee", "Company": "Acme", **fields}


# ---- OAuth ---------------------------------------------------------------------------------------------------


def test_token_refresh_has_the_real_shape_and_no_expires_in(running: RunningEmulator, client: Client) -> None:
    real = fixture("sf_token_refresh.json")
    body = client.token
    assert set(body) == set(real)  # in particular: no expires_in, no refresh_token without rotation
    assert all(isinstance(body[key], type(real[key])) for key in real)
    assert body["instance_url"] == running.base_url
    assert body["token_type"] == "Bearer" and body["issued_at"].isdigit()
    secret = client.creds["client_secret"].encode()
    expected = hmac.new(secret, (body["id"] + body["issued_at"]).encode(), hashlib.sha256)
    assert body["signature"] == base64.b64encode(expected.digest()).decode()
    assert body["id"].endswith("/" + running.emulator.integration_user_id)


def test_bad_refresh_token_and_bad_client(client: Client) -> None:
    answer = refresh(client.session, client.creds, "5Aep861-not-a-token")
    assert answer.status_code == 400
    assert answer.json() == fixture("sf_token_refresh_error.json")
    wrong_client = client.session.post(
        client.creds["token_url"],
        data={"grant_type": "refresh_token", "client_id": "other", "client_secret": "x",
              "refresh_token": client.creds["refresh_token"]},
    )
    assert wrong_client.status_code == 400 and wrong_client.json()["error"] == "invalid_client_id"


def test_expired_access_token_then_refresh(client: Client) -> None:
    client.sf.query("SELECT Id FROM Lead")
    client.advance(7201)
    with pytest.raises(SalesforceExpiredSession) as caught:
        client.sf.query("SELECT Id FROM Lead")
    assert caught.value.status == 401
    assert caught.value.content == fixture("sf_invalid_session.json")
    raw = client.raw("GET", "limits")
    real_headers = fixture("sf_invalid_session.headers.json")["headers"]
    assert raw.status_code == 401
    for name in ("www-authenticate", "expires", "content-type"):
        assert raw.headers[name] == real_headers[name]
    assert "Sforce-Limit-Info" not in raw.headers

    fresh = refresh(client.session, client.creds).json()["access_token"]
    sf = Salesforce(instance_url=client.creds["instance_url"], session_id=fresh, session=client.session)
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_missing_or_unknown_bearer_is_invalid_session(client: Client) -> None:
    url = client.sf.base_url + "query"
    for headers in ({}, {"Authorization": "Bearer 00Dx!ARnope"}, {"Authorization": "Basic abc"}):
        answer = client.session.get(url, params={"q": "SELECT Id FROM Lead"}, headers=headers)
        assert answer.status_code == 401
        assert answer.json() == fixture("sf_invalid_session.json")
    assert client.stats()["other_requests"]["rejected_invalid_session"] == 3


def test_refresh_token_rotation_revokes_the_old_token(start: Callable[..., RunningEmulator]) -> None:
    running = start(rotate_refresh_tokens=True)
    creds = json.loads((running.state_dir / "credentials.json").read_text())
    session = http(creds["ca_file"])
    first = refresh(session, creds).json()
    assert first["refresh_token"] != creds["refresh_token"]
    again = refresh(session, creds)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    second = refresh(session, creds, first["refresh_token"])
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]


def test_authorization_code_flow_with_pkce(client: Client) -> None:
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect_uri = "http://127.0.0.1:8765/callback"
    answer = client.control(
        "GET",
        "/services/oauth2/authorize",
        params={"response_type": "code", "client_id": client.creds["client_id"], "redirect_uri": redirect_uri,
                "state": "xyz", "code_challenge": challenge, "code_challenge_method": "S256"},
        allow_redirects=False,
    )
    assert answer.status_code == 302
    location = urlparse(answer.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri and query["state"] == ["xyz"]
    exchange = {"grant_type": "authorization_code", "code": query["code"][0], "client_id": client.creds["client_id"],
                "client_secret": client.creds["client_secret"], "redirect_uri": redirect_uri}
    wrong_verifier = client.session.post(client.creds["token_url"], data={**exchange, "code_verifier": "x" * 64})
    assert wrong_verifier.json()["error"] == "invalid_grant"

    answer = client.control(
        "GET", "/services/oauth2/authorize", allow_redirects=False,
        params={"response_type": "code", "client_id": client.creds["client_id"], "redirect_uri": redirect_uri,
                "code_challenge": challenge},
    )
    exchange["code"] = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
    tokens = client.session.post(client.creds["token_url"], data={**exchange, "code_verifier": verifier}).json()
    assert {"access_token", "refresh_token", "instance_url", "id", "issued_at", "signature"} <= set(tokens)
    assert refresh(client.session, client.creds, tokens["refresh_token"]).status_code == 200
    reused = client.session.post(client.creds["token_url"], data={**exchange, "code_verifier": verifier})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


# ---- query ---------------------------------------------------------------------------------------------------


def test_query_pages_through_relative_next_records_urls(running: RunningEmulator, client: Client) -> None:
    seed_leads(running, 1100)
    soql = "SELECT Id, UPM_Id__c FROM Lead ORDER BY UPM_Id__c"
    headers = {"Sforce-Query-Options": "batchSize=500"}
    first = client.sf.query(soql, headers=headers)
    assert (first["totalSize"], first["done"], len(first["records"])) == (1100, False, 500)
    assert re.fullmatch(r"/services/data/v59\.0/query/01g[0-9A-Za-z]{15}-500", first["nextRecordsUrl"])
    assert list(first) == list(fixture("sf_query_page.json"))
    second = client.sf.query_more(first["nextRecordsUrl"], identifier_is_url=True, headers=headers)
    assert second["nextRecordsUrl"].endswith("-1000") and len(second["records"]) == 500
    last = client.sf.query_more(second["nextRecordsUrl"], identifier_is_url=True, headers=headers)
    assert last["done"] is True and len(last["records"]) == 100
    assert list(last) == list(fixture("sf_query_last_page.json"))
    ids = [r["UPM_Id__c"] for page in (first, second, last) for r in page["records"]]
    assert ids == sorted(ids) and len(set(ids)) == 1100
    assert first["records"][0]["attributes"] == {
        "type": "Lead",
        "url": f"/services/data/v59.0/sobjects/Lead/{first['records'][0]['Id']}",
    }

    before = client.stats()["api_calls"]["by_category"]
    everything = client.sf.query_all(soql)  # default page size 2000: one page
    after = client.stats()["api_calls"]["by_category"]
    assert everything["totalSize"] == 1100
    assert (after["query"] - before["query"], after.get("queryMore", 0) - before["queryMore"]) == (1, 0)
    small = client.sf.query_all(soql, headers={"Sforce-Query-Options": "batchSize=50"})  # clamped to 200
    assert [r["UPM_Id__c"] for r in small["records"]] == ids
    assert client.stats()["api_calls"]["by_category"]["queryMore"] - after["queryMore"] == 5


def test_default_page_is_2000_records(running: RunningEmulator, client: Client) -> None:
    seed_leads(running, 2001)
    page = client.sf.query("SELECT Id FROM Lead")
    assert len(page["records"]) == 2000 and page["nextRecordsUrl"].endswith("-2000")
    assert client.sf.query("SELECT COUNT() FROM Lead") == {"totalSize": 2001, "done": True, "records": []}


def test_an_unknown_query_locator_is_refused(client: Client) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client.sf.query_more("/services/data/v59.0/query/01g5g0000000000AAA-2000", identifier_is_url=True)
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_all_sees_deleted_rows(running: RunningEmulator, client: Client) -> None:
    ids = seed_leads(running, 3)
    assert client.sf.Lead.delete(ids[1]) == 204
    assert client.sf.query("SELECT Id FROM Lead")["totalSize"] == 2
    rows = client.sf.query_all("SELECT Id, IsDeleted FROM Lead ORDER BY Id", include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(ids[0], False), (ids[1], True), (ids[2], False)]
    with pytest.raises(SalesforceResourceNotFound) as caught:
        client.sf.Lead.get(ids[1])
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_keyset_paging_over_equal_system_modstamps(running: RunningEmulator, client: Client) -> None:
    seed_leads(running, 300)  # created within a second or two: many records share a SystemModstamp
    rows = client.sf.query_all("SELECT Id, SystemModstamp FROM Lead ORDER BY SystemModstamp, Id")["records"]
    keys = [(r["SystemModstamp"], r["Id"]) for r in rows]
    assert keys == sorted(keys) and len({stamp for stamp, _ in keys}) < len(keys)

    seen: list[str] = []
    stamp, last_id = "2000-01-01T00:00:00.000+0000", "000000000000000AAA"
    while True:
        page = client.sf.query(
            "SELECT Id, SystemModstamp FROM Lead WHERE SystemModstamp > "
            f"{stamp} OR (SystemModstamp = {stamp} AND Id > '{last_id}') ORDER BY SystemModstamp, Id LIMIT 70"
        )["records"]
        if not page:
            break
        seen += [r["Id"] for r in page]
        stamp, last_id = page[-1]["SystemModstamp"], page[-1]["Id"]
    assert seen == [record_id for _, record_id in keys]


def test_format_soql_escaped_values_and_datetimes(running: RunningEmulator, client: Client) -> None:
    tricky = "O'Brien \\ \"Jr\"\n\tTab"
    created = client.sf.Lead.create({"LastName": tricky, "Company": "50%_off Ltd"})
    found = client.sf.query(format_soql("SELECT Id, LastName FROM Lead WHERE LastName = {}", tricky))["records"]
    assert [(r["Id"], r["LastName"]) for r in found] == [(created["id"], tricky)]
    like = format_soql("SELECT Id FROM Lead WHERE Company LIKE '{:like}%'", "50%_")
    assert client.sf.query(like)["totalSize"] == 1
    stamp = client.sf.Lead.get(created["id"])["SystemModstamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000", stamp)
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.000+0000").replace(tzinfo=timezone.utc)
    for soql in (
        format_soql("SELECT Id FROM Lead WHERE SystemModstamp >= {}", moment),
        f"SELECT Id FROM Lead WHERE SystemModstamp >= {stamp[:19]}Z",
        f"SELECT Id FROM Lead WHERE SystemModstamp >= {stamp}",
    ):
        assert client.sf.query(soql)["totalSize"] == 1
    assert client.sf.query(format_soql("SELECT Id FROM Lead WHERE SystemModstamp > {}", moment))["totalSize"] == 0


def test_refused_queries_answer_like_salesforce(client: Client) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client.sf.query("SELECT Id, Foo__c FROM Lead")
    assert [set(item) for item in caught.value.content] == [set(item) for item in fixture(INVALID_FIELD)]
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client.sf.query("SELECT Id FROM Lead WHERE")
    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client.sf.query("SELECT Id FROM Whizbang__c")
    assert caught.value.content[0]["errorCode"] == "INVALID_TYPE"


# ---- describe and records ------------------------------------------------------------------------------------


def test_describe_objects_and_fields(client: Client) -> None:
    prefixes = {o["name"]: o["keyPrefix"] for o in client.sf.describe()["sobjects"]}
    assert prefixes == {"Lead": "00Q", "Account": "001", "Contact": "003", "Opportunity": "006", "Campaign": "701",
                        "Note": "002", "User": "005"}
    for name in prefixes:
        fields = {f["name"]: f for f in getattr(client.sf, name).describe()["fields"]}
        assert SYSTEM_FIELDS <= set(fields)
        assert fields["UPM_Id__c"]["externalId"] is True and fields["UPM_Id__c"]["unique"] is True
        assert fields["UPM_Id__c"]["custom"] is True and fields["Id"]["type"] == "id"
    lead = {f["name"]: f for f in client.sf.Lead.describe()["fields"]}
    assert lead["Partner_Account__c"]["referenceTo"] == ["Account"]
    assert lead["Partner_Account__c"]["relationshipName"] == "Partner_Account__r"
    assert {"Approval_Status__c", "Campaign_Id__c", "Offer_Id__c", "Tactic_Id__c"} <= set(lead)


REAL_FIELD_KEYS = frozenset(
    "aggregatable aiPredictionField autoNumber byteLength calculated calculatedFormula cascadeDelete caseSensitive "
    "compoundFieldName controllerName createable custom defaultValue defaultValueFormula defaultedOnCreate "
    "dependentPicklist deprecatedAndHidden digits displayLocationInDecimal encrypted externalId extraTypeInfo "
    "filterable filteredLookupInfo formulaTreatNullNumberAsZero groupable highScaleNumber htmlFormatted idLookup "
    "inlineHelpText label length mask maskType name nameField namePointing nillable permissionable picklistValues "
    "polymorphicForeignKey precision queryByDistance referenceTargetField referenceTo relationshipName "
    "relationshipOrder restrictedDelete restrictedPicklist scale searchPrefilterable soapType sortable type unique "
    "updateable writeRequiresMasterRead".split()
)
"""The keys the real describe sends for every field, whatever its type (API v50 and later)."""


def test_describe_sends_the_real_fixed_set_of_keys_for_every_field(client: Client) -> None:
    for name in ("Lead", "Account", "Contact", "Opportunity", "Campaign", "Note", "User"):
        for field in getattr(client.sf, name).describe()["fields"]:
            assert set(field) == REAL_FIELD_KEYS, (name, field["name"], set(field) ^ REAL_FIELD_KEYS)
    lead = {f["name"]: f for f in client.sf.Lead.describe()["fields"]}
    assert lead["Email"]["compoundFieldName"] is None and lead["OwnerId"]["relationshipName"] == "Owner"
    assert (lead["FirstName"]["compoundFieldName"], lead["City"]["compoundFieldName"]) == ("Name", "Address")
    account = {f["name"]: f for f in client.sf.Account.describe()["fields"]}
    assert account["BillingCity"]["compoundFieldName"] == "BillingAddress"
    assert lead["Id"]["nillable"] is False and lead["Id"]["idLookup"] is True and lead["Id"]["updateable"] is False


def test_record_crud_upsert_and_who_modified(running: RunningEmulator, client: Client) -> None:
    created = client.sf.Account.create({"Name": "Acme", "UPM_Id__c": "A-1"})
    assert created["success"] is True and re.fullmatch(r"001[0-9A-Za-z]{15}", created["id"])
    assert client.sf.Account.update(created["id"], {"Industry": "Retail"}) == 204
    record = client.sf.Account.get(created["id"])
    assert record["Industry"] == "Retail" and record["LastModifiedById"] == running.emulator.integration_user_id
    assert client.sf.Account.get(created["id"][:15])["Id"] == created["id"]  # 15-character ids work too

    response = client.sf.Account.upsert("UPM_Id__c/A-2", {"Name": "Beta"}, raw_response=True)
    assert response.status_code == 201 and response.json()["created"] is True
    response = client.sf.Account.upsert("UPM_Id__c/A-2", {"Name": "Beta 2"}, raw_response=True)
    assert response.status_code == 200 and response.json() == {
        "id": response.json()["id"], "success": True, "errors": [], "created": False}
    assert set(response.json()) == set(fixture("sf_upsert_result_item.json"))
    assert client.sf.Account.get_by_custom_id("UPM_Id__c", "a-2")["Name"] == "Beta 2"

    running.emulator.admin_upsert("Account", {"Id": created["id"], "Phone": "555"})
    assert client.sf.Account.get(created["id"])["LastModifiedById"] == running.emulator.admin_user_id

    running.emulator.seed({"Account": [{"Name": "Dup 1", "Legacy_Id__c": "X"}, {"Name": "Dup 2", "Legacy_Id__c": "X"}]})
    with pytest.raises(SalesforceMoreThanOneRecord) as caught:
        client.sf.Account.upsert("Legacy_Id__c/X", {"Name": "?"})
    assert caught.value.status == 300 and len(caught.value.content) == 2

    with pytest.raises(SalesforceMalformedRequest) as caught:
        client.sf.Account.create({"Name": "Dup", "UPM_Id__c": "A-1"})
    assert caught.value.content[0]["errorCode"] == "DUPLICATE_VALUE"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client.sf.Contact.create({"FirstName": "No last name"})
    assert caught.value.content == [{"message": "Required fields are missing: [LastName]",
                                     "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"]}]


def test_unknown_field_in_a_write(client: Client) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client.sf.Lead.create({"LastName": "x", "Company": "y", "Foo": 1})
    message = "No such column 'Foo' on sobject of type Lead"
    assert caught.value.content == [{"message": message, "errorCode": "INVALID_FIELD"}]
    assert [set(item) for item in caught.value.content] == [set(item) for item in fixture(INVALID_FIELD)]


# ---- sObject Collections and composite -----------------------------------------------------------------------


def test_collections_upsert_and_the_200_record_limit(running: RunningEmulator, client: Client) -> None:
    records = [lead(f"C{i:03d}") for i in range(200)]
    results = client.sf.restful("composite/sobjects/Lead/UPM_Id__c", method="PATCH", json={"records": records})
    assert len(results) == 200 and all(r["success"] and r["created"] for r in results)
    assert [list(r) for r in results[:1]] == [list(fixture("sf_upsert_result_item.json"))]
    again = client.sf.restful("composite/sobjects/Lead/UPM_Id__c", method="PATCH",
                              json={"records": [{**r, "Company": "Changed"} for r in records]})
    assert [r["id"] for r in again] == [r["id"] for r in results] and not any(r["created"] for r in again)
    assert {r["Company"] for r in running.emulator.records("Lead")} == {"Changed"}

    with pytest.raises(SalesforceMalformedRequest) as caught:
        client.sf.restful("composite/sobjects/Lead/UPM_Id__c", method="PATCH",
                          json={"records": records + [lead("C200")]})
    message = "record limit reached. cannot submit more than 200 records into this call"
    assert caught.value.content == [{"message": message, "errorCode": "EXCEEDED_ID_LIMIT"}]
    assert len(running.emulator.records("Lead")) == 200


def test_collections_per_record_errors_match_the_documented_example(client: Client) -> None:
    created = client.sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Contact"}, "LastName": "Good"},
        {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
        {"attributes": {"type": "Contact"}, "LastName": "x", "Email": "not an email"},
        {"attributes": {"type": "Contact"}, "LastName": "x", "Shoe_Size__c": 43},
    ]})
    assert [r["success"] for r in created] == [True, False, False, False]
    assert [r["errors"][0]["statusCode"] for r in created[1:]] == [
        "REQUIRED_FIELD_MISSING", "INVALID_EMAIL_ADDRESS", "INVALID_FIELD"]
    real = fixture("sf_collections_result_one_error.json")
    updated = client.sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Contact"}, "Id": created[0]["id"], "Title": "CEO"},
        {"attributes": {"type": "Contact"}, "Id": "001xx000003DGb2999", "Title": "CFO"},
    ]})
    assert updated == [{**real[0], "id": created[0]["id"]}, real[1]]


def test_collections_all_or_none_rolls_back(running: RunningEmulator, client: Client) -> None:
    first = client.sf.Contact.create({"LastName": "Before"})["id"]
    real = fixture("sf_collections_result_allornone_rollback.json")
    results = client.sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Contact"}, "Id": first, "LastName": "After"},
        {"attributes": {"type": "Contact"}, "Id": "001xx000003DGb2999", "LastName": "x"},
    ]})
    assert results == [{**real[0], "id": first}, real[1]]
    assert client.sf.Contact.get(first)["LastName"] == "Before"

    created = client.sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Contact"}, "LastName": "One"},
        {"attributes": {"type": "Contact"}},
    ]})
    codes = [r["errors"][0]["statusCode"] for r in created]
    assert codes == ["ALL_OR_NONE_OPERATION_ROLLED_BACK", "REQUIRED_FIELD_MISSING"]
    assert "id" not in created[0]
    assert [r["LastName"] for r in running.emulator.records("Contact")] == ["Before"]


def test_collections_delete(running: RunningEmulator, client: Client) -> None:
    ids = seed_leads(running, 3)
    results = client.sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join([*ids[:2], "bogus"])})
    assert [r["success"] for r in results] == [True, True, False]
    assert results[2]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert [r["Id"] for r in running.emulator.records("Lead")] == [ids[2]]


def test_composite_counts_as_one_call_and_caps_collections(running: RunningEmulator, client: Client) -> None:
    def collection(ref: str, start: int) -> dict[str, Any]:
        return {"method": "PATCH", "url": "/services/data/v59.0/composite/sobjects/Lead/UPM_Id__c", "referenceId": ref,
                "body": {"records": [lead(f"K{start + i:04d}") for i in range(200)]}}

    before = client.stats()["api_calls"]
    answer = client.sf.restful("composite", method="POST",
                               json={"compositeRequest": [collection(f"c{n}", n * 200) for n in range(5)]})
    after = client.stats()["api_calls"]
    assert after["total"] - before["total"] == 1
    assert after["by_category"]["composite"] == 1 and "collections" not in after["by_category"]
    assert [item["httpStatusCode"] for item in answer["compositeResponse"]] == [200] * 5
    assert set(answer["compositeResponse"][0]) == {"body", "httpHeaders", "httpStatusCode", "referenceId"}
    assert len(running.emulator.records("Lead")) == 1000
    assert client.sf.api_usage["api-usage"].used == after["total"]

    with pytest.raises(SalesforceMalformedRequest):
        client.sf.restful("composite", method="POST",
                          json={"compositeRequest": [collection(f"c{n}", 5000 + n * 200) for n in range(6)]})
    too_many = [{"method": "GET", "url": "/services/data/v59.0/limits", "referenceId": f"l{n}"} for n in range(26)]
    with pytest.raises(SalesforceMalformedRequest):
        client.sf.restful("composite", method="POST", json={"compositeRequest": too_many})
    assert len(running.emulator.records("Lead")) == 1000


def test_composite_references_and_all_or_none(running: RunningEmulator, client: Client) -> None:
    answer = client.sf.restful("composite", method="POST", json={"compositeRequest": [
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Account", "referenceId": "acct",
         "body": {"Name": "Parent"}},
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Contact", "referenceId": "person",
         "body": {"LastName": "Kid", "AccountId": "@{acct.id}"}},
        {"method": "GET", "url": "/services/data/v59.0/sobjects/Contact/@{person.id}?fields=AccountId",
         "referenceId": "check"},
    ]})["compositeResponse"]
    assert [item["httpStatusCode"] for item in answer] == [201, 201, 200]
    assert answer[0]["httpHeaders"]["Location"].endswith(answer[0]["body"]["id"])
    assert answer[2]["body"]["AccountId"] == answer[0]["body"]["id"]

    halted = client.sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Account", "referenceId": "ok", "body": {"Name": "A"}},
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Account", "referenceId": "bad", "body": {}},
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Account", "referenceId": "later",
         "body": {"Name": "B"}},
    ]})["compositeResponse"]
    assert [item["httpStatusCode"] for item in halted] == [400, 400, 400]
    assert [item["body"][0]["errorCode"] for item in halted] == ["PROCESSING_HALTED", "REQUIRED_FIELD_MISSING",
                                                                 "PROCESSING_HALTED"]
    assert [r["Name"] for r in running.emulator.records("Account")] == ["Parent"]


# ---- Bulk API --------------------------------------------------------------------------------------------------


def test_bulk2_upsert_with_results(running: RunningEmulator, client: Client) -> None:
    rows = [{"UPM_Id__c": f"B{i:03d}", "LastName": f"L{i}", "Company": "Acme"} for i in range(250)]
    rows.append({"UPM_Id__c": "B-bad", "LastName": "", "Company": "Acme"})
    outcome = client.sf.bulk2.Lead.upsert(records=rows, external_id_field="UPM_Id__c", wait=0.01)
    assert outcome[0]["numberRecordsProcessed"] == 251 and outcome[0]["numberRecordsFailed"] == 1
    job_id = outcome[0]["job_id"]
    results = client.sf.bulk2.Lead.get_all_ingest_records(job_id)
    assert len(results["successfulRecords"]) == 250 and results["successfulRecords"][0]["sf__Created"] == "true"
    failed = results["failedRecords"]
    assert failed[0]["sf__Id"] == "" and failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:")
    assert failed[0]["sf__Error"].endswith(":LastName --")

    success_csv = client.sf.bulk2.Lead.get_successful_records(job_id)
    assert success_csv.splitlines()[0].startswith('"sf__Id","sf__Created",')
    real_header = (FIXTURES / "sf_bulk2_successful_results.csv").read_text().splitlines()[0]
    assert real_header.startswith('"sf__Id","sf__Created",')
    job = client.raw("GET", f"jobs/ingest/{job_id}").json()
    real_job = fixture("sf_bulk2_ingest_job_complete.json")
    assert set(real_job) <= set(job) and all(isinstance(job[k], type(real_job[k])) for k in real_job)
    assert (job["state"], job["jobType"], job["operation"]) == ("JobComplete", "V2Ingest", "upsert")

    again = client.sf.bulk2.Lead.upsert(records=rows[:10], external_id_field="UPM_Id__c", wait=0.01)
    assert again[0]["numberRecordsFailed"] == 0
    created_flags = {r["sf__Created"] for r in client.sf.bulk2.Lead.get_all_ingest_records(again[0]["job_id"])[
        "successfulRecords"]}
    assert created_flags == {"false"} and len(running.emulator.records("Lead")) == 250


def test_bulk2_ingest_job_lifecycle_by_hand(client: Client) -> None:
    created = client.raw("POST", "jobs/ingest", json={"object": "Contact", "operation": "insert"}).json()
    real = fixture("sf_bulk2_ingest_job_create.json")
    assert set(real) <= set(created) and created["state"] == "Open"
    upload = client.raw("PUT", f"jobs/ingest/{created['id']}/batches", data="LastName,Bogus__c\nx,y\n",
                        headers={"Content-Type": "text/csv"})
    assert upload.status_code == 201
    client.raw("PATCH", f"jobs/ingest/{created['id']}", json={"state": "UploadComplete"})
    job = client.raw("GET", f"jobs/ingest/{created['id']}").json()
    assert job["state"] == "Failed" and "Bogus__c" in job["errorMessage"]
    unprocessed = client.raw("GET", f"jobs/ingest/{created['id']}/unprocessedrecords/").text
    assert unprocessed.splitlines() == ['"LastName","Bogus__c"', '"x","y"']


def test_bulk2_query_pages_with_locators(running: RunningEmulator, client: Client) -> None:
    seed_leads(running, 250)
    pages = list(client.sf.bulk2.Lead.query("SELECT Id, UPM_Id__c, CreatedDate FROM Lead ORDER BY UPM_Id__c",
                                            max_records=100, wait=0.01))
    rows = [row for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert [len(list(csv.DictReader(io.StringIO(page)))) for page in pages] == [100, 100, 50]
    assert [r["UPM_Id__c"] for r in rows] == [f"U{i:05d}" for i in range(250)]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", rows[0]["CreatedDate"])
    assert pages[0].startswith('"Id","UPM_Id__c","CreatedDate"\n')


def test_parent_fields_come_nested_under_the_relationship_as_real_salesforce(running: RunningEmulator, client: Client) -> None:
    account = client.sf.Account.create({"Name": "Acme", "UPM_Id__c": "A-1"})["id"]
    for n in range(250):
        client.sf.Contact.create({"LastName": f"C{n:03d}", "UPM_Id__c": f"C-{n:03d}", **({"AccountId": account} if n else {})})
    soql = "SELECT Id, LastName, Account.Name, Owner.Email FROM Contact ORDER BY LastName"
    first = client.sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    real = fixture("sf_query_relationships.json")["records"][0]["ParentWhizbang__r"]
    orphan, child = first["records"][0], first["records"][1]
    assert orphan["Account"] is None and orphan["Owner"]["Email"] == "integ@upm-emulator.example.com"
    assert set(child["Account"]) == {"attributes", "Name"} and set(child["Account"]["attributes"]) == set(real["attributes"])
    assert child["Account"]["Name"] == "Acme" and child["Account"]["attributes"]["type"] == "Account"
    assert child["Account"]["attributes"]["url"].endswith(f"/sobjects/Account/{account}")
    assert set(child) == {"attributes", "Id", "LastName", "Account", "Owner"}
    rest = client.sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)["records"]
    assert [r["Account"]["Name"] for r in rest] == ["Acme"] * 50, "a queryMore page nests its parents too"
    pages = list(client.sf.bulk2.Contact.query(soql, wait=0.01))
    rows = [row for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert pages[0].startswith('"Id","LastName","Account.Name","Owner.Email"\n')
    assert (rows[0]["Account.Name"], rows[1]["Account.Name"]) == ("", "Acme")


def test_bulk_api_1_is_not_enabled(client: Client) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client.sf.bulk.Lead.insert([{"LastName": "x", "Company": "y"}])
    assert caught.value.content == {"exceptionCode": "FeatureNotEnabled", "exceptionMessage": "Async API not enabled"}
    xml = client.session.post(client.creds["instance_url"] + "/services/async/59.0/job",
                               headers={"Content-Type": "application/xml", "X-SFDC-Session": client.sf.session_id})
    assert xml.status_code == 400 and "<exceptionCode>FeatureNotEnabled</exceptionCode>" in xml.text


# ---- replication -----------------------------------------------------------------------------------------------


def test_get_updated_and_get_deleted(running: RunningEmulator, client: Client) -> None:
    start = client.advance(0) - timedelta(minutes=1)
    ids = seed_leads(running, 3)
    client.sf.Lead.update(ids[0], {"Company": "Changed"})
    client.sf.Lead.delete(ids[1])
    end = client.advance(120) - timedelta(seconds=30)  # in the past, so latestDateCovered is end's minute

    updated = client.sf.Lead.updated(start, end)
    assert set(updated) == set(fixture("sf_get_updated.json"))
    assert sorted(updated["ids"]) == sorted([ids[0], ids[2]])
    deleted = client.sf.Lead.deleted(start, end)
    real = fixture("sf_get_deleted.json")
    assert set(deleted) == set(real) and set(deleted["deletedRecords"][0]) == set(real["deletedRecords"][0])
    assert [r["id"] for r in deleted["deletedRecords"]] == [ids[1]]
    assert deleted["latestDateCovered"] == end.strftime("%Y-%m-%dT%H:%M:00.000+0000")
    earliest = datetime.strptime(deleted["earliestDateAvailable"], "%Y-%m-%dT%H:%M:%S.000+0000")
    assert earliest.replace(tzinfo=timezone.utc) <= start

    assert client.control("POST", "/__emulator/delete-log/purge", json={"object": "Lead"}).status_code == 204
    with pytest.raises(SalesforceMalformedRequest) as purged:
        client.sf.Lead.deleted(start, end)
    assert purged.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    assert "earliest date available" in purged.value.content[0]["message"]
    assert client.sf.query_all("SELECT Id FROM Lead", include_deleted=True)["totalSize"] == 2


def test_a_replication_window_of_a_minute_or_less_is_refused(running: RunningEmulator, client: Client) -> None:
    end = client.advance(600)
    for resource in (client.sf.Lead.deleted, client.sf.Lead.updated):
        with pytest.raises(SalesforceMalformedRequest) as refused:
            resource(end - timedelta(seconds=60), end)
        assert refused.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
        assert "more than one minute" in refused.value.content[0]["message"]
        assert "latestDateCovered" in resource(end - timedelta(seconds=61), end)


def test_delete_log_keeps_15_days(running: RunningEmulator, client: Client) -> None:
    ids = seed_leads(running, 2)
    deleted_at = client.advance(0)
    running.emulator.admin_delete("Lead", ids[0])
    assert client.sf.query_all("SELECT Id FROM Lead", include_deleted=True)["totalSize"] == 2
    now = client.advance(16 * 24 * 3600)
    client.sf.session_id = refresh(client.session, client.creds).json()["access_token"]
    sf = Salesforce(instance_url=client.creds["instance_url"], session_id=client.sf.session_id, session=client.session)
    assert sf.query_all("SELECT Id FROM Lead", include_deleted=True)["totalSize"] == 1  # recycle bin emptied
    answer = sf.Lead.deleted(now - timedelta(days=1), now)
    earliest = datetime.strptime(answer["earliestDateAvailable"], "%Y-%m-%dT%H:%M:%S.000+0000")
    assert earliest.replace(tzinfo=timezone.utc) >= now - timedelta(days=15, seconds=1) > deleted_at
    assert answer["deletedRecords"] == []
    with pytest.raises(SalesforceMalformedRequest) as too_old:
        sf.Lead.deleted(deleted_at - timedelta(minutes=1), now)
    assert too_old.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


# ---- limits ----------------------------------------------------------------------------------------------------


def test_limit_header_usage_and_limits_resource(client: Client) -> None:
    client.sf.query("SELECT Id FROM Lead")
    assert client.sf.api_usage["api-usage"] == (1, 100_000)
    leads = client.sf.Lead  # each SFType parses the header into its own api_usage
    leads.describe()
    assert leads.api_usage["api-usage"] == (2, 100_000)
    limits = client.sf.limits()
    real = fixture("sf_limits.json")
    assert set(limits) == set(real) and all(set(limits[k]) == {"Max", "Remaining"} for k in limits)
    assert limits["DailyApiRequests"] == {"Max": 100_000, "Remaining": 100_000 - 3}
    header = client.raw("GET", "limits").headers["Sforce-Limit-Info"]
    assert header == "api-usage=4/100000"
    assert all(key != "token" for key in client.stats()["api_calls"]["by_category"])


def test_daily_allocation_spent(start: Callable[..., RunningEmulator]) -> None:
    client = Client(start(daily_api_limit=3))
    for _ in range(3):
        client.sf.query("SELECT Id FROM Lead")
    assert client.sf.api_usage["api-usage"] == (3, 3)
    with pytest.raises(SalesforceRefusedRequest) as caught:
        client.sf.query("SELECT Id FROM Lead")
    assert caught.value.status == 403 and caught.value.content == fixture("sf_request_limit_exceeded.json")
    assert refresh(client.session, client.creds).status_code == 200  # the token endpoint does not count
    stats = client.stats()
    assert stats["api_calls"]["total"] == 3 and stats["other_requests"]["rejected_request_limit_exceeded"] == 1
    client.advance(24 * 3600 + 60)
    token = refresh(client.session, client.creds).json()
    sf = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=client.session)
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    assert sf.api_usage["api-usage"] == (1, 3)


# ---- faults and control ----------------------------------------------------------------------------------------


def test_unavailable_fault(client: Client) -> None:
    assert client.control("POST", "/__emulator/faults", json={"kind": "unavailable", "count": 2}).status_code == 201
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as caught:
            client.sf.query("SELECT Id FROM Lead")
        assert caught.value.status == 503 and caught.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert client.sf.query("SELECT Id FROM Lead")["done"] is True
    assert client.stats()["api_calls"]["total"] == 1


def test_timeout_fault_holds_the_answer(client: Client) -> None:
    client.control("POST", "/__emulator/faults", json={"kind": "timeout", "count": 1, "delay_seconds": 0.6,
                                                       "category": "query"})
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.sf.query("SELECT Id FROM Lead", timeout=0.2)
    assert client.sf.query("SELECT Id FROM Lead", timeout=5)["done"] is True


def test_lock_row_fault_fails_once_then_succeeds(running: RunningEmulator, client: Client) -> None:
    client.control("POST", "/__emulator/faults", json={"kind": "lock_row", "keys": ["R1"], "count": 1})
    body = {"records": [lead("R1"), lead("R2")]}
    first = client.sf.restful("composite/sobjects/Lead/UPM_Id__c", method="PATCH", json=body)
    assert [r["success"] for r in first] == [False, True]
    assert first[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert first[0]["errors"][0]["message"].startswith("unable to obtain exclusive access to this record")
    retry = client.sf.restful("composite/sobjects/Lead/UPM_Id__c", method="PATCH", json=body)
    assert [(r["success"], r["created"]) for r in retry] == [(True, True), (True, False)]


def test_validation_fault_until_cleared(running: RunningEmulator, client: Client) -> None:
    record_id = client.sf.Lead.create({"LastName": "V", "Company": "C", "UPM_Id__c": "V1"})["id"]
    message = "Approved leads cannot be changed"
    client.control("POST", "/__emulator/faults", json={"kind": "validation", "keys": [record_id], "message": message,
                                                       "fields": ["Approval_Status__c"]})
    for _ in range(2):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            client.sf.Lead.update(record_id, {"Approval_Status__c": "Rejected"})
        assert caught.value.content == [{"message": message, "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                         "fields": ["Approval_Status__c"]}]
    assert client.control("GET", "/__emulator/faults").json()[0]["kind"] == "validation"
    assert client.control("DELETE", "/__emulator/faults").status_code == 204
    assert client.sf.Lead.update(record_id, {"Approval_Status__c": "Rejected"}) == 204
    assert client.control("POST", "/__emulator/faults", json={"kind": "nonsense"}).status_code == 400


def test_admin_edits_through_control_endpoints_are_not_api_calls(running: RunningEmulator, client: Client) -> None:
    answer = client.control("POST", "/__emulator/records/Lead", json=[
        {"LastName": "Ui", "Company": "C", "UPM_Id__c": "UI1"}, {"LastName": "Ui2", "Company": "C"}])
    ids = answer.json()["ids"]
    assert client.control("POST", "/__emulator/records/Lead",
                          json={"UPM_Id__c": "UI1", "Status": "Working - Contacted"}).json()["ids"] == ids[:1]
    assert client.control("DELETE", f"/__emulator/records/Lead/{ids[1]}").status_code == 204
    bad = client.control("POST", "/__emulator/records/Lead", json={"Company": "no last name"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    stats = client.stats()
    assert stats["api_calls"]["total"] == 0
    assert (stats["records"]["Lead"], stats["deleted_records"]["Lead"]) == (1, 1)
    listed = client.control("GET", "/__emulator/records/Lead").json()
    assert listed[0]["Status"] == "Working - Contacted"
    assert listed[0]["LastModifiedById"] == running.emulator.admin_user_id


def test_reset_keeps_tokens_and_clears_everything_else(running: RunningEmulator, client: Client) -> None:
    seed_leads(running, 5)
    client.sf.query("SELECT Id FROM Lead")
    client.control("POST", "/__emulator/faults", json={"kind": "unavailable"})
    stats = client.control("POST", "/__emulator/reset").json()
    assert stats["records"]["Lead"] == 0 and stats["api_calls"]["total"] == 0 and stats["faults"] == []
    assert stats["records"]["User"] == 2
    assert client.sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    client.control("POST", "/__emulator/reset", json={"keep_tokens": False})
    with pytest.raises(SalesforceExpiredSession):
        client.sf.query("SELECT Id FROM Lead")
    assert refresh(client.session, client.creds).status_code == 200


def test_seed_file_and_extra_fields(start: Callable[..., RunningEmulator], tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"Account": [{"Name": "Seeded", "UPM_Id__c": "S1", "Score__c": "4.5"}]}))
    running = start(seed_file=seed, extra_fields={"Account": [{"name": "Score__c", "type": "double"}]})
    client = Client(running)
    score = {f["name"]: f for f in client.sf.Account.describe()["fields"]}["Score__c"]
    assert (score["type"], score["custom"], score["soapType"]) == ("double", True, "xsd:double")
    assert [(r["Name"], r["Score__c"]) for r in client.sf.query("SELECT Name, Score__c FROM Account")["records"]] == [
        ("Seeded", 4.5)
    ]
    client.sf.Account.create({"Name": "Extra"})
    assert client.control("POST", "/__emulator/reset").json()["records"]["Account"] == 1


def test_cli_serves_with_the_credentials_it_writes(tmp_path: Path) -> None:
    credentials_file = tmp_path / "credentials.json"
    arguments = ["--port", "0", "--write-credentials", str(credentials_file), "--state-dir", str(tmp_path / "state"),
                 "--daily-api-limit", "50", "--rotate-refresh-tokens"]
    with (tmp_path / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", "from crm_emulators.salesforce.cli import command; command()", *arguments],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                creds = json.loads(credentials_file.read_text())
                session = http(creds["ca_file"])
                # no keep-alive: uvicorn (runner.serve_forever) waits for open TLS connections before exiting
                session.headers["Connection"] = "close"
                token = refresh(session, creds)
                break
            except (OSError, ValueError, requests.ConnectionError):
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr.txt").read_text()
                time.sleep(0.05)
        assert set(creds) == CREDENTIAL_KEYS and token.status_code == 200
        assert "refresh_token" in token.json()  # --rotate-refresh-tokens
        sf = Salesforce(instance_url=creds["instance_url"], session_id=token.json()["access_token"], session=session)
        assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 2
        assert sf.api_usage["api-usage"] == (1, 50)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
