"""The records API over real HTTP: every kind created, read, updated, archived and listed; what a
partner user's key reaches (its own and its children's records, nothing of another partner's);
versions (ETag / If-Match); computed amounts; conversions; lead activity; errors naming the field."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from connector.leads import lifecycle
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.assignments import LeadStatusHistory
from connector.store.distribution import LeadActivity
from connector.store.records import Note
from leads.conftest import Make

from .conftest import Api, Keys

BODIES: dict[str, dict[str, Any]] = {
    "prospects": {"email": "pat@{tag}.example", "last_name": "Pat {tag}", "company_name": "Co {tag}"},
    "contacts": {"last_name": "Contact {tag}", "email": "c@{tag}.example"},
    "accounts": {"name": "Account {tag}"},
    "opportunities": {"name": "Opp {tag}", "line_items": [{"product": "Widget {tag}", "sales_price": "100.00"}]},
}
"""What a partner creates of each kind it may create directly; `{tag}` marks whose it is."""


def body(kind: str, tag: str) -> dict[str, Any]:
    return json.loads(json.dumps(BODIES[kind]).replace("{tag}", tag))


def made(api: Api, key: str, kind: str, values: dict[str, Any]) -> dict[str, Any]:
    answer = api.call("POST", f"/api/v1/{kind}", key, json=values)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_every_route_with_two_partners_keys_nothing_of_b_reaches_a(api: Api, keys_: Keys) -> None:
    mine: dict[str, dict[str, Any]] = {}
    for kind in BODIES:
        mine[kind] = made(api, keys_.b, kind, body(kind, "betasecret"))
        assert mine[kind]["access_type"] == "Read-Write"
        if "partner_account_id" in mine[kind]:
            assert mine[kind]["partner_account_id"] == keys_.b_partner, kind
    opp = mine["opportunities"]["id"]
    mine["notes"] = made(api, keys_.b, "notes", {"record_module": "opportunity", "record_id": opp, "body": "betasecret"})
    mine["tasks"] = made(api, keys_.b, "tasks", {"record_module": "opportunity", "record_id": opp,
                                                 "subject": "call betasecret"})
    mine["deals"] = _deal_of(api, keys_.b, opp)
    seen_by_a: list[str] = []
    for kind, record in mine.items():
        path = f"/api/v1/{kind}/{record['id']}"
        for method, extra in (("GET", {}), ("PATCH", {"json": {}}), ("DELETE", {})):
            answer = api.call(method, path, keys_.a, etag=record["version"], **extra)
            assert answer.status_code == 404, (kind, method, answer.text)
            seen_by_a.append(answer.text)
        listed = api.call("GET", f"/api/v1/{kind}", keys_.a)
        assert listed.status_code == 200 and listed.json()["items"] == [], (kind, listed.text)
        by_partner = api.call("GET", f"/api/v1/{kind}?partner={keys_.b_partner}", keys_.a)
        assert by_partner.json()["items"] == [], kind
        seen_by_a += [listed.text, by_partner.text]
        if kind in ("prospects", "contacts", "accounts", "opportunities", "deals"):
            logged = api.call("POST", f"{path}/activities", keys_.a, json={"kind": "call", "subject": "x"})
            assert logged.status_code == 404, (kind, logged.text)
            seen_by_a.append(logged.text)
        assert api.call("GET", path, keys_.b).status_code == 200, "B still reaches its own"
        assert api.call("GET", path, keys_.vendor).status_code == 200, "the vendor reaches everything"
    for path, payload in (
            ("/api/v1/contacts", {"last_name": "x", "account_id": mine["accounts"]["id"]}),
            ("/api/v1/opportunities", {"name": "x", "contact_id": mine["contacts"]["id"]}),
            ("/api/v1/notes", {"record_module": "account", "record_id": mine["accounts"]["id"]}),
            ("/api/v1/deals", {"opportunity_id": opp}),
            ("/api/v1/accounts", {"name": "x", "partner_account_id": keys_.b_partner}),
            (f"/api/v1/prospects/{mine['prospects']['id']}/convert", {"new_account": True}),
            (f"/api/v1/prospects/{mine['prospects']['id']}/status", {"status": "Contacted"}),
            (f"/api/v1/opportunities/{opp}/register", {})):
        answer = api.call("POST", path, keys_.a, json=payload)
        assert answer.status_code in (404, 422), (path, answer.text)
        seen_by_a.append(answer.text)
    leaked = [text for text in seen_by_a if "betasecret" in text.lower() or '"Beta"' in text]
    assert leaked == [], leaked
    missing = api.call("GET", "/api/v1/accounts/999999", keys_.a)
    assert missing.status_code == 404
    refused = api.call("POST", "/api/v1/contacts", keys_.a, json={"last_name": "x", "account_id": 999999})
    unseen = api.call("POST", "/api/v1/contacts", keys_.a, json={"last_name": "x", "account_id": mine["accounts"]["id"]})
    assert refused.json()["detail"][0]["message"].replace("999999", "N") == \
        unseen.json()["detail"][0]["message"].replace(str(mine["accounts"]["id"]), "N"), "unseen reads as absent"


def _deal_of(api: Api, key: str, opportunity_id: int) -> dict[str, Any]:
    current = api.call("GET", f"/api/v1/opportunities/{opportunity_id}", key).json()
    won = api.call("PATCH", f"/api/v1/opportunities/{opportunity_id}", key, etag=current["version"],
                   json={"sales_stage": 10})
    assert won.status_code == 200, won.text
    deal = api.call("POST", f"/api/v1/opportunities/{opportunity_id}/register", key)
    assert deal.status_code == 201, deal.text
    return deal.json()


def test_a_parent_partner_reaches_its_childrens_records_and_the_child_not_the_parents(
        api: Api, db: Database, make: Make) -> None:
    from .conftest import key_of
    parent = make.partner("Parent")
    make.partner("Child", parent_id=parent)
    parent_key, child_key = key_of(db, "rep0@parent.example"), key_of(db, "rep0@child.example")
    child_account = made(api, child_key, "accounts", {"name": "Child's customer"})
    parent_account = made(api, parent_key, "accounts", {"name": "Parent's customer"})
    assert api.call("GET", f"/api/v1/accounts/{child_account['id']}", parent_key).status_code == 200
    assert api.call("GET", f"/api/v1/accounts/{parent_account['id']}", child_key).status_code == 404
    assert [r["id"] for r in api.call("GET", "/api/v1/accounts", parent_key).json()["items"]] == [
        parent_account["id"], child_account["id"]]
    assert [r["id"] for r in api.call("GET", "/api/v1/accounts", child_key).json()["items"]] == [child_account["id"]]


def test_vendor_only_kinds_and_fields(api: Api, keys_: Keys, db: Database) -> None:
    for kind, payload in (("campaigns", {"name": "Spring"}), ("companies", {"name": "Initech"})):
        assert api.call("POST", f"/api/v1/{kind}", keys_.a, json=payload).status_code == 403, kind
        made(api, keys_.vendor, kind, payload)
    (campaign,) = api.call("GET", "/api/v1/campaigns", keys_.a).json()["items"]
    assert campaign["access_type"] == "Read-Only", "partners read the vendor's campaigns"
    patched = api.call("PATCH", f"/api/v1/campaigns/{campaign['id']}", keys_.a, etag=campaign["version"],
                       json={"name": "mine"})
    assert patched.status_code == 403
    approved = api.call("POST", "/api/v1/accounts", keys_.a, json={"name": "x", "approval_status": "Approved"})
    assert approved.status_code == 422 and approved.json()["detail"] == [
        {"field": "approval_status", "value": "Approved", "message": "set by the vendor only"}]
    assert made(api, keys_.vendor, "accounts", {"name": "y", "approval_status": "Approved"})["approval_status"] == "Approved"


def test_a_read_only_assignment_cannot_be_edited(api: Api, keys_: Keys, service: LeadService, make: Make) -> None:
    lead = make.lead(email="ro@customer.example")
    service.assign(lead, "account:Alpha", reason="look only", access_type="Read-Only")
    shown = api.call("GET", f"/api/v1/prospects/{lead}", keys_.a)
    assert shown.status_code == 200 and shown.json()["access_type"] == "Read-Only"
    for method, path, payload in (("PATCH", "", {"title": "CTO"}), ("DELETE", "", None),
                                  ("POST", "/activities", {"kind": "call"})):
        answer = api.call(method, f"/api/v1/prospects/{lead}{path}", keys_.a, etag=shown.json()["version"],
                          **({"json": payload} if payload is not None else {}))
        assert answer.status_code == 403 and "read-only" in answer.json()["detail"], (method, path, answer.text)
    assert make.prospect(lead).title is None and make.prospect(lead).archived_at is None
    assert api.call("GET", f"/api/v1/prospects/{lead}", keys_.b).status_code == 404


def test_etag_and_if_match(api: Api, keys_: Keys) -> None:
    account = made(api, keys_.a, "accounts", {"name": "Initech"})
    path = f"/api/v1/accounts/{account['id']}"
    read = api.call("GET", path, keys_.a)
    etag = read.headers["ETag"]
    assert etag == f'"{account["version"]}"' == f'"{read.json()["version"]}"'
    bare = api.call("PATCH", path, keys_.a, json={"phone": "1"})
    assert bare.status_code == 428 and bare.json()["error"] == "PreconditionRequired"
    first = api.call("PATCH", path, keys_.a, etag=etag, json={"phone": "555-0100"})
    assert first.status_code == 200 and first.headers["ETag"] != etag and first.json()["phone"] == "555-0100"
    stale = api.call("PATCH", path, keys_.a, etag=etag, json={"phone": "555-0199"})
    assert stale.status_code == 409 and stale.json()["error"] == "VersionMismatch"
    assert stale.headers["ETag"] == first.headers["ETag"] == f'"{stale.json()["current_version"]}"'
    assert api.call("GET", path, keys_.a).json()["phone"] == "555-0100", "the stale edit did not overwrite"
    assert api.call("DELETE", path, keys_.a, etag=etag).status_code == 409
    assert api.call("DELETE", path, keys_.a).status_code == 428
    archived = api.call("DELETE", path, keys_.a, etag=f'W/{first.headers["ETag"]}')
    assert archived.status_code == 200 and archived.json()["archived_at"] is not None
    assert api.call("GET", path, keys_.a).status_code == 404, "archived: gone for the partner"
    assert api.call("GET", path, keys_.vendor).json()["archived_at"] is not None, "kept for the vendor"
    assert api.call("GET", "/api/v1/accounts", keys_.vendor).json()["items"] == []


def test_the_amount_is_the_sum_of_the_line_items(api: Api, keys_: Keys) -> None:
    lines = [{"product": "Widget", "sales_price": "100.00", "quantity": "3", "discount": "10"},
             {"product": "Gadget", "sku": "G-1", "sales_price": "49.99"}]
    opp = made(api, keys_.a, "opportunities", {"name": "Big deal", "line_items": lines})
    assert Decimal(opp["amount"]) == Decimal("319.99")  # 300 less 10% + 49.99
    assert [(i["product"], Decimal(i["total"]), Decimal(i["net"])) for i in opp["line_items"]] == [
        ("Widget", Decimal("300.00"), Decimal("270.00")), ("Gadget", Decimal("49.99"), Decimal("49.99"))]
    typed = api.call("POST", "/api/v1/opportunities", keys_.a, json={"name": "x", "amount": "1000000"})
    assert typed.status_code == 422 and typed.json()["detail"][0]["field"] == "amount"
    path = f"/api/v1/opportunities/{opp['id']}"
    renamed = api.call("PATCH", path, keys_.a, etag=opp["version"], json={"name": "Bigger deal"})
    assert Decimal(renamed.json()["amount"]) == Decimal("319.99"), "lines untouched, amount kept"
    relined = api.call("PATCH", path, keys_.a, etag=renamed.json()["version"],
                       json={"line_items": [{"product": "Widget", "sales_price": "10", "quantity": "5"}]})
    assert relined.status_code == 200 and Decimal(relined.json()["amount"]) == Decimal("50.00")
    assert len(relined.json()["line_items"]) == 1


def test_bad_input_is_422_naming_the_field_and_value(api: Api, keys_: Keys) -> None:
    cases = [
        ({"name": "x", "sales_stage": 13}, "sales_stage", 13),
        ({"name": "x", "currency": "EUR"}, "currency", "EUR"),
        ({"name": "x" * 256}, "name", "x" * 256),
        ({"name": "x", "expected_close_date": "next week"}, "expected_close_date", "next week"),
        ({"name": "x", "line_items": [{"product": "w", "sales_price": "-1"}]}, "line_items.0.sales_price", "-1"),
        ({"name": "x", "account_id": 42}, "account_id", 42),
        ({"name": "x", "account_id": 2**70}, "account_id", 2**70),
        ({"sales_stage": 2}, "name", None),
        ({"name": "x", "line_items": [{"product": "w", "sales_price": "999999999999.99", "quantity": "999999.99"}]},
         "line_items", 1),
    ]
    for payload, field, value in cases:
        answer = api.call("POST", "/api/v1/opportunities", keys_.a, json=payload)
        assert answer.status_code == 422, (payload, answer.text)
        body = answer.json()
        assert body["error"] == "invalid" and (body["detail"][0]["field"], body["detail"][0]["value"]) == (field, value), body
    for path in ("/api/v1/opportunities/abc", f"/api/v1/opportunities/{2**64}", "/api/v1/opportunities?limit=0",
                 "/api/v1/opportunities?cursor=not-a-cursor", "/api/v1/opportunities?updated_since=yesterday"):
        answer = api.call("GET", path, keys_.a)
        assert answer.status_code == 422 and answer.json()["error"] == "invalid", (path, answer.text)
    assert api.call("GET", "/api/v1/opportunities/12345", keys_.a).json() == {
        "detail": "no opportunity 12345", "error": "NotFound"}
    opp = made(api, keys_.a, "opportunities", {"name": "x"})
    emptied = api.call("PATCH", f"/api/v1/opportunities/{opp['id']}", keys_.a, etag="*", json={"name": None})
    assert emptied.status_code == 422 and emptied.json()["detail"] == [
        {"field": "name", "value": None, "message": "cannot be empty"}]
    garbled = api.call("POST", "/api/v1/accounts", keys_.a, data="{not json", headers={"Content-Type": "application/json"})
    assert garbled.status_code == 422
    nul = api.call("POST", "/api/v1/accounts", keys_.a, json={"name": "a\u0000b"})
    assert nul.status_code in (201, 422), nul.text


def test_lists_filter_and_page_with_an_opaque_cursor(api: Api, keys_: Keys) -> None:
    ids = [made(api, keys_.a, "prospects", {"email": f"p{n}@x.example", "last_name": f"Smith{n}",
                                            "status": "Contacted" if n % 2 else "New"})["id"] for n in range(7)]
    seen, cursor = [], None
    while True:
        page = api.call("GET", "/api/v1/prospects", keys_.a, params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        seen += [r["id"] for r in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
        assert not cursor.isdigit(), "opaque"
    assert seen == ids[::-1]
    contacted = api.call("GET", "/api/v1/prospects?status=Contacted", keys_.a).json()["items"]
    assert [r["id"] for r in contacted] == [ids[5], ids[3], ids[1]]
    assert [r["id"] for r in api.call("GET", "/api/v1/prospects?q=SMITH4", keys_.a).json()["items"]] == [ids[4]]
    later = api.call("GET", "/api/v1/prospects", keys_.a, params={"updated_since": "2100-01-01T00:00:00Z"})
    assert later.json()["items"] == []
    assert len(api.call("GET", "/api/v1/prospects?updated_since=2000-01-01T00:00:00", keys_.a).json()["items"]) == 7
    assert api.call("GET", "/api/v1/prospects", keys_.b).json()["items"] == []


def test_prospect_converts_to_a_contact_carrying_its_history_and_campaign(api: Api, keys_: Keys, db: Database) -> None:
    campaign = made(api, keys_.vendor, "campaigns", {"name": "Spring", "offer_id": "OF-1"})
    lead = made(api, keys_.a, "prospects", {"email": "ann@initech.example", "last_name": "Ann",
                                            "company_name": "Initech", "campaign_id": campaign["id"]})
    assert lead["distribution_state"] == lifecycle.ACCEPTED, "a partner's own lead is its, accepted"
    status = api.call("POST", f"/api/v1/prospects/{lead['id']}/status", keys_.a, json={"status": "Qualified"})
    assert status.status_code == 200 and status.json()["status"] == "Qualified"
    call = api.call("POST", f"/api/v1/prospects/{lead['id']}/activities", keys_.a,
                    json={"kind": "call", "subject": "Intro"})
    assert call.status_code == 201 and call.json()["stored_as"] == "lead_activity"
    contact = api.call("POST", f"/api/v1/prospects/{lead['id']}/convert", keys_.a, json={"new_account": True})
    assert contact.status_code == 201, contact.text
    assert (contact.json()["prospect_id"], contact.json()["partner_account_id"]) == (lead["id"], keys_.a_partner)
    account = api.call("GET", f"/api/v1/accounts/{contact.json()['account_id']}", keys_.a).json()
    assert account["name"] == "Initech"
    converted = api.call("GET", f"/api/v1/prospects/{lead['id']}", keys_.a).json()
    assert (converted["converted_contact_id"], converted["status"], converted["campaign_id"]) == (
        contact.json()["id"], "Converted", campaign["id"])
    with db.session() as s:
        assert list(s.scalars(select(LeadStatusHistory.status).where(LeadStatusHistory.prospect_id == lead["id"])
                              .order_by(LeadStatusHistory.id))) == ["Qualified", "Converted"]
        assert s.scalar(select(func.count()).select_from(LeadActivity).where(LeadActivity.prospect_id == lead["id"])) == 1
    again = api.call("POST", f"/api/v1/prospects/{lead['id']}/convert", keys_.a, json={"new_account": True})
    assert again.status_code == 409
    existing = made(api, keys_.a, "prospects", {"email": "bo@initech.example", "last_name": "Bo"})
    to_account = api.call("POST", f"/api/v1/prospects/{existing['id']}/convert", keys_.a,
                          json={"account_id": account["id"]})
    assert to_account.status_code == 201 and to_account.json()["account_id"] == account["id"]
    assert api.call("POST", f"/api/v1/prospects/{existing['id']}/convert", keys_.vendor,
                    json={"new_account": True}).status_code == 403


def test_closed_won_opportunity_registers_a_deal_with_its_history_and_attribution(api: Api, keys_: Keys,
                                                                                db: Database) -> None:
    campaign = made(api, keys_.vendor, "campaigns", {"name": "Q3 push", "offer_id": "OF-9", "tactic_id": "TA-2"})
    opp = made(api, keys_.a, "opportunities", {
        "name": "Initech renewal", "campaign_id": campaign["id"], "offer_id": "OF-9", "tactic_id": "TA-2",
        "line_items": [{"product": "Seat", "sales_price": "120", "quantity": "10"}]})
    assert api.call("POST", f"/api/v1/opportunities/{opp['id']}/activities", keys_.a,
                    json={"kind": "meeting", "subject": "Kickoff", "body": "budget ok"}).json()["stored_as"] == "note"
    early = api.call("POST", f"/api/v1/opportunities/{opp['id']}/register", keys_.a)
    assert early.status_code == 409 and "Closed Won" in early.json()["detail"]
    deal = _deal_of(api, keys_.a, opp["id"])
    assert (deal["opportunity_id"], Decimal(deal["amount"]), deal["approval_status"], deal["partner_account_id"]) == (
        opp["id"], Decimal("1200.00"), "Pending", keys_.a_partner)
    assert (deal["campaign_id"], deal["offer_id"], deal["tactic_id"]) == (campaign["id"], "OF-9", "TA-2")
    with db.session() as s:
        carried = list(s.scalars(select(Note.title).where(Note.record_module == "registered_deal",
                                                          Note.record_id == deal["id"])))
    assert carried == ["Meeting: Kickoff"]
    twice = api.call("POST", f"/api/v1/opportunities/{opp['id']}/register", keys_.a)
    assert twice.status_code == 409 and str(deal["id"]) in twice.json()["detail"]
    assert [d["id"] for d in api.call("GET", "/api/v1/deals", keys_.a).json()["items"]] == [deal["id"]]


def test_openapi_is_served_with_the_bearer_scheme_and_response_schemas(api: Api) -> None:
    spec = api.call("GET", "/openapi.json", None).json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["bearer"]["description"]}
    patch = spec["paths"]["/api/v1/opportunities/{record_id}"]["patch"]
    assert patch["security"] == [{"bearer": []}]
    assert {"200", "401", "403", "404", "409", "422", "428"} <= set(patch["responses"])
    assert patch["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/InvalidOut")
    out = spec["components"]["schemas"]["OpportunityOut"]["properties"]
    assert {"amount", "line_items", "version"} <= set(out)
    assert "amount" not in spec["components"]["schemas"]["OpportunityCreate"]["properties"]
    assert api.call("GET", "/docs", None).status_code == 200


def test_two_edits_on_one_version_at_once_one_wins_the_other_is_409(api: Api, keys_: Keys) -> None:
    account = made(api, keys_.a, "accounts", {"name": "Contested"})
    path = f"/api/v1/accounts/{account['id']}"
    barrier = threading.Barrier(4)

    def edit(n: int) -> tuple[int, str]:
        client = Api(api.base_url)
        barrier.wait()
        answer = client.call("PATCH", path, keys_.a, etag=f'"{account["version"]}"', json={"phone": f"555-010{n}"})
        client.http.close()
        return answer.status_code, answer.text

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(edit, range(4)))
    assert sorted(code for code, _ in results) == [200, 409, 409, 409], results
    (winner,) = [json.loads(text)["phone"] for code, text in results if code == 200]
    assert api.call("GET", path, keys_.a).json()["phone"] == winner


def test_notes_and_tasks_follow_the_record_they_are_attached_to(api: Api, keys_: Keys, service: LeadService,
                                                                make: Make) -> None:
    lead = make.lead(email="shared@customer.example")
    service.assign(lead, "account:Alpha", reason="look only", access_type="Read-Only")
    refused = api.call("POST", "/api/v1/notes", keys_.a, json={"record_module": "prospect", "record_id": lead, "body": "x"})
    assert refused.status_code == 403, "a read-only record takes no notes"
    note = made(api, keys_.vendor, "notes", {"record_module": "prospect", "record_id": lead, "body": "from the CAM"})
    seen = api.call("GET", f"/api/v1/notes/{note['id']}", keys_.a)
    assert seen.status_code == 200 and seen.json()["access_type"] == "Read-Only"
    assert [n["id"] for n in api.call("GET", "/api/v1/notes", keys_.a).json()["items"]] == [note["id"]]
    assert api.call("GET", f"/api/v1/notes/{note['id']}", keys_.b).status_code == 404
    bad = api.call("POST", "/api/v1/tasks", keys_.vendor, json={"record_module": "planet", "record_id": 1, "subject": "s"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "record_module"
