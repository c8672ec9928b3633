"""The directory API over real HTTP on loopback: vendor admins manage partners, users, groups and
named accounts; partner keys are refused (a partner admin reads its own account and users only);
bad bodies are 422 naming the field and value, unknown ids 404."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connector.api import keys
from connector.api.app import create_app
from connector.config.secrets import Secret
from connector.config.settings import HttpSettings
from connector.leads.service import LeadService
from connector.store import Database
from crm_emulators.runner import BackgroundServer
from leads.conftest import Make

VENDOR_KEY = "vendor-admin-key"


class Api:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def call(self, method: str, path: str, key: str = VENDOR_KEY, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.base_url + path, headers={"Authorization": f"Bearer {key}"},
                                 timeout=30, **kwargs)


@pytest.fixture
def api(db: Database, service: LeadService) -> Iterator[Api]:
    http = HttpSettings(api_keys={"admin": Secret(VENDOR_KEY, "test")})
    with BackgroundServer(create_app(db, lambda: True, service, http)) as server:
        client = Api(server.base_url)
        yield client
        client.http.close()


def key_of(db: Database, email: str) -> str:
    with db.session() as s:
        return keys.issue(s, email)


def test_a_vendor_admin_onboards_a_partner_through_the_api(api: Api, db: Database) -> None:
    created = api.call("POST", "/api/v1/partners", json={"name": "Acme", "tier": "Gold", "countries": ["US", "ca"]})
    assert created.status_code == 201, created.text
    acme = created.json()
    assert (acme["name"], acme["countries"], acme["active"]) == ("Acme", ["US", "CA"], True)
    child = api.call("POST", "/api/v1/partners", json={"name": "Acme West", "parent": str(acme["id"])}).json()
    assert child["parent"] == "Acme"
    user = api.call("POST", "/api/v1/users", json={"email": "rep@acme.example", "partner": "Acme"})
    assert user.status_code == 201 and user.json()["role"] == "sales"
    group = api.call("POST", "/api/v1/groups", json={"name": "US", "members": [{"partner": "Acme"}, "Acme West"]})
    assert [m["partner"] for m in group.json()["members"]] == ["Acme", "Acme West"]
    named = api.call("POST", "/api/v1/named-accounts", json={"name": "Initech", "partner": "Acme",
                                                              "rep": "rep@acme.example"})
    assert named.status_code == 201 and named.json()["rep"] == "rep@acme.example"

    edited = api.call("PATCH", "/api/v1/partners/Acme", json={"tier": "Platinum", "products": ["Firewall"]})
    assert (edited.json()["tier"], edited.json()["products"], edited.json()["countries"]) == (
        "Platinum", ["Firewall"], ["US", "CA"])
    assert api.call("GET", f"/api/v1/partners/{acme['id']}").json()["children"] == ["Acme West"]
    assert [u["email"] for u in api.call("GET", "/api/v1/users", params={"partner": "Acme"}).json()] == [
        "rep@acme.example"]
    assert api.call("GET", "/api/v1/named-accounts").json()[0]["name"] == "Initech"
    assert api.call("DELETE", "/api/v1/groups/US").status_code == 200
    assert api.call("GET", "/api/v1/groups/US").status_code == 404

    schema = api.http.get(api.base_url + "/openapi.json", timeout=30).json()
    assert {"PartnerSpec", "PartnerView", "UserView", "GroupView", "NamedAccountView", "Deactivation"} <= set(
        schema["components"]["schemas"])
    operations = {o["operationId"]: (method, path) for path, methods in schema["paths"].items()
                  for method, o in methods.items() if "directory" in o.get("tags", [])}
    resources = {"partners": ("partners", "partner"), "users": ("users", "user"), "groups": ("groups", "group"),
                 "named-accounts": ("named", "named")}
    expected = {}
    for path, (plural, singular) in resources.items():
        snake, base = path.replace("-", "_"), f"/api/v1/{path}"
        expected |= {f"list_{plural}_api_v1_{snake}_get": ("get", base),
                     f"add_{singular}_api_v1_{snake}_post": ("post", base),
                     f"get_{singular}_api_v1_{snake}__ref__get": ("get", base + "/{ref}"),
                     f"edit_{singular}_api_v1_{snake}__ref__patch": ("patch", base + "/{ref}")}
        if path == "groups":
            expected[f"remove_group_api_v1_{snake}__ref__delete"] = ("delete", base + "/{ref}")
        else:
            expected[f"deactivate_{singular}_api_v1_{snake}__ref__deactivate_post"] = ("post", base + "/{ref}/deactivate")
    assert operations == expected, "the directory's operation ids (client generators name methods by them)"
    users = schema["paths"]["/api/v1/users"]["get"]
    assert [p["name"] for p in users["parameters"] if p["in"] == "query"] == ["partner"]
    closed = schema["paths"]["/api/v1/named-accounts/{ref}/deactivate"]["post"]["responses"]["200"]
    assert closed["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NamedAccountView"}


def test_bad_bodies_are_422_naming_the_field_and_unknown_ids_404(api: Api) -> None:
    api.call("POST", "/api/v1/partners", json={"name": "Acme"})
    answer = api.call("POST", "/api/v1/partners", json={"name": "Other", "parent": "Nope"})
    assert answer.status_code == 422
    assert answer.json() == {"error": "invalid", "detail": [
        {"field": "parent", "value": "Nope", "message": "parent: 'Nope' is not a partner"}]}
    answer = api.call("PATCH", "/api/v1/partners/Acme", json={"parent": "Acme"})
    assert answer.status_code == 422 and "would make a cycle" in answer.json()["detail"][0]["message"]
    answer = api.call("POST", "/api/v1/partners", json={"name": "X", "countries": ["Atlantis"]})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "countries"
    assert "'Atlantis' is not an ISO 3166 country code" in answer.json()["detail"][0]["message"]
    api.call("POST", "/api/v1/users", json={"email": "rep@acme.example", "partner": "Acme"})
    duplicate = api.call("POST", "/api/v1/users", json={"email": "REP@acme.example", "partner": "Acme"})
    assert duplicate.status_code == 422 and duplicate.json()["detail"][0]["field"] == "email"
    member = api.call("POST", "/api/v1/groups", json={"name": "G", "members": ["Ghost"]})
    assert member.status_code == 422 and member.json()["detail"][0]["field"] == "members.0.partner"
    for path in ("/api/v1/partners/999", "/api/v1/users/nobody@x.example", "/api/v1/groups/7",
                 "/api/v1/named-accounts/Nope"):
        missing = api.call("GET", path)
        assert missing.status_code == 404 and "Traceback" not in missing.text, path
    assert api.call("POST", "/api/v1/partners/999/deactivate").status_code == 404


def test_partner_keys_are_refused_except_an_admin_reading_its_own_account(api: Api, db: Database,
                                                                          make: Make) -> None:
    alpha, beta = make.partner("Alpha"), make.partner("Beta")
    child = make.partner("Alpha Kid", parent_id=alpha)
    admin = make.user(alpha, "admin@alpha.example", role="admin")
    rep_key, admin_key = key_of(db, "rep0@alpha.example"), key_of(db, "admin@alpha.example")
    writes = [("POST", "/api/v1/partners", {"name": "Mine"}), ("PATCH", f"/api/v1/partners/{alpha}", {"tier": "X"}),
              ("POST", f"/api/v1/partners/{beta}/deactivate", None), ("POST", "/api/v1/users",
                                                                      {"email": "n@alpha.example", "partner": "Alpha"}),
              ("PATCH", f"/api/v1/users/{admin}", {"role": "sales"}), ("GET", "/api/v1/groups", None),
              ("POST", "/api/v1/groups", {"name": "G"}), ("GET", "/api/v1/named-accounts", None),
              ("POST", "/api/v1/named-accounts", {"name": "N", "partner": "Alpha"})]
    for key in (rep_key, admin_key):
        for method, path, body in writes:
            answer = api.call(method, path, key, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
    for path in ("/api/v1/partners", f"/api/v1/partners/{alpha}", "/api/v1/users"):
        assert api.call("GET", path, rep_key).status_code == 403, "a sales rep reads nothing here"
    assert api.call("GET", f"/api/v1/partners/{alpha}", admin_key).json()["name"] == "Alpha"
    assert api.call("GET", f"/api/v1/partners/{child}", admin_key).status_code == 200, "its children too"
    assert api.call("GET", f"/api/v1/partners/{beta}", admin_key).status_code == 404, "another partner is not there"
    assert [p["name"] for p in api.call("GET", "/api/v1/partners", admin_key).json()] == ["Alpha", "Alpha Kid"]
    listed = api.call("GET", "/api/v1/users", admin_key).json()
    assert {u["email"] for u in listed} == {"rep0@alpha.example", "admin@alpha.example", "rep0@alpha-kid.example"}
    assert api.call("GET", "/api/v1/users/rep0@beta.example", admin_key).status_code == 404


def test_deactivating_a_user_answers_where_their_leads_went_and_their_key_stops(
        api: Api, db: Database, make: Make, service: LeadService) -> None:
    alpha = make.partner("Alpha")
    make.partner("Beta")
    rep = make.users_of(alpha)[0]
    key = key_of(db, "rep0@alpha.example")
    lead = make.lead()
    service.assign(lead, f"user:{rep}", reason="test")
    service.save_rules([{"name": "beta", "target": "account:Beta"}])
    assert api.call("GET", f"/api/v1/leads/{lead}", key).status_code == 200

    done = api.call("POST", "/api/v1/users/rep0@alpha.example/deactivate")
    assert done.status_code == 200
    body = done.json()
    assert (body["kind"], body["was_active"]) == ("user", True)
    assert [(m["lead_id"], m["partner"], m["state"], m["reason"]) for m in body["leads"]] == [
        (lead, "Beta", "assigned", "rule beta")]
    assert api.call("GET", f"/api/v1/leads/{lead}", key).status_code == 401, "a deactivated user's key stops"
    assert api.call("GET", "/api/v1/users/rep0@alpha.example").json()["active"] is False

    gone = api.call("POST", "/api/v1/partners/Beta/deactivate").json()
    assert [(m["lead_id"], m["state"], m["reason"]) for m in gone["leads"]] == [(lead, "open", "no rule matched")], \
        "the rule's only partner is inactive: the fallback (open pool)"
