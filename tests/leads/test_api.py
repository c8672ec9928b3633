"""The lead API: keyed callers only; vendor keys place leads (Assign to Partner), partner users see
and act on their own leads only."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from connector.api import keys
from connector.api.app import create_app
from connector.cli import main
from connector.config.secrets import Secret
from connector.config.settings import HttpSettings
from crm_emulators.runner import BackgroundServer
from connector.leads import lifecycle
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.bindings import Binding
from connector.store.partners import PartnerAccount, PartnerUser
from leads.conftest import Make

VENDOR_KEY = "vendor-key-for-the-salesforce-button"


class Api:
    """The daemon's app served over real HTTP on a loopback port, called with requests."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.base_url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.base_url + path, timeout=30, **kwargs)


@pytest.fixture
def api(db: Database, service: LeadService) -> Iterator[Api]:
    http = HttpSettings(api_keys={"salesforce-button": Secret(VENDOR_KEY, "test")})
    with BackgroundServer(create_app(db, lambda: True, service, http)) as server:
        client = Api(server.base_url)
        yield client
        client.http.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def key_of(db: Database, email: str) -> str:
    with db.session() as s:
        return keys.issue(s, email)


def test_every_api_call_needs_a_known_key(api: Api, make: Make, db: Database) -> None:
    lead = make.lead()
    for headers in ({}, {"Authorization": "Basic abc"}, bearer(""), bearer("upm_not-a-key"), bearer(VENDOR_KEY + "x")):
        answer = api.get(f"/api/v1/leads/{lead}", headers=headers)
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer", headers
    assert api.post(f"/api/v1/leads/{lead}/assign", json={"to": "account:1", "reason": "x"}).status_code == 401
    assert api.get("/healthz").status_code == 200, "the probes stay open"
    assert api.get(f"/api/v1/leads/{lead}", headers=bearer(VENDOR_KEY)).json()["id"] == lead


def test_assign_to_partner_by_the_crm_id_then_the_partner_sees_and_accepts(api: Api, make: Make,
                                                                           db: Database) -> None:
    alpha, beta = make.partner("Alpha"), make.partner("Beta", countries=["JP"])
    lead = make.lead(country="US")
    with db.session() as s:
        s.add(Binding(connection="vendor-salesforce", crm_object="Lead", crm_id="00Q5e00000AbCdE", module="prospect",
                      record_id=lead))
    ref = "vendor-salesforce:00Q5e00000AbCdE"
    listed = api.get(f"/api/v1/leads/{ref}/partners", headers=bearer(VENDOR_KEY))
    assert listed.status_code == 200
    verdicts = {v["name"]: v for v in listed.json()}
    assert verdicts["Alpha"]["eligible"] and not verdicts["Beta"]["eligible"]
    assert any(c["name"] == "territory" and not c["ok"] for c in verdicts["Beta"]["checks"])

    placed = api.post(f"/api/v1/leads/{ref}/assign", headers=bearer(VENDOR_KEY),
                      json={"to": "account:Alpha", "reason": "the CAM's pick"})
    assert placed.status_code == 200, placed.text
    assert (placed.json()["prospect_id"], placed.json()["state"], placed.json()["account_id"]) == (
        lead, lifecycle.ASSIGNED, alpha)
    assert make.statuses(lead)[-1] == "Assigned"

    alpha_key, beta_key = key_of(db, "rep0@alpha.example"), key_of(db, "rep0@beta.example")
    inbox = api.get("/api/v1/inbox", headers=bearer(alpha_key)).json()
    assert [(row["id"], row["distribution_state"]) for row in inbox] == [(lead, lifecycle.ASSIGNED)]
    shown = api.get(f"/api/v1/leads/{lead}", headers=bearer(alpha_key)).json()
    assert (shown["distribution_state"], shown["access_type"]) == (lifecycle.ASSIGNED, "Read-Write")
    assert api.get("/api/v1/inbox", headers=bearer(beta_key)).json() == []
    assert api.get(f"/api/v1/leads/{lead}", headers=bearer(beta_key)).status_code == 404, "not theirs: not there"
    assert api.post(f"/api/v1/leads/{lead}/accept", headers=bearer(beta_key)).status_code == 404

    accepted = api.post(f"/api/v1/leads/{ref}/accept", headers=bearer(alpha_key))
    assert accepted.status_code == 200 and accepted.json()["state"] == lifecycle.ACCEPTED
    again = api.post(f"/api/v1/leads/{lead}/accept", headers=bearer(alpha_key))
    assert again.status_code == 409 and again.json()["error"] == "InvalidTransition"


def test_each_kind_of_key_keeps_to_its_routes(api: Api, make: Make, db: Database) -> None:
    make.partner("Alpha")
    lead = make.lead()
    partner_key = key_of(db, "rep0@alpha.example")
    for method, path, body in (("get", "partners", None), ("post", "assign", {"to": "account:Alpha", "reason": "x"}),
                               ("post", "distribute", None)):
        answer = getattr(api, method)(f"/api/v1/leads/{lead}/{path}", headers=bearer(partner_key),
                                      **({"json": body} if body else {}))
        assert answer.status_code == 403 and answer.json()["error"] == "NotAllowed", path
    for path in ("accept", "claim"):
        assert api.post(f"/api/v1/leads/{lead}/{path}", headers=bearer(VENDOR_KEY)).status_code == 403
    assert api.get("/api/v1/inbox", headers=bearer(VENDOR_KEY)).status_code == 403
    assert api.get("/api/v1/leads/999999", headers=bearer(VENDOR_KEY)).status_code == 404
    assert api.get("/api/v1/leads/nowhere:00Q", headers=bearer(VENDOR_KEY)).status_code == 404
    bad = api.post(f"/api/v1/leads/{lead}/assign", headers=bearer(VENDOR_KEY), json={"to": "account:Alpha"})
    assert bad.status_code == 422, "a direct assignment needs a reason"


def test_shark_tank_claims_over_the_api_one_winner(api: Api, make: Make, db: Database,
                                                   service: LeadService) -> None:
    alpha, beta = make.partner("Alpha"), make.partner("Beta")
    make.group("Tank", [alpha, beta], model="shark_tank")
    service.save_rules([{"name": "tank", "target": "group:Tank"}])
    lead = make.lead()
    assert api.post(f"/api/v1/leads/{lead}/distribute", headers=bearer(VENDOR_KEY)).json()["state"] == lifecycle.POOL
    alpha_key, beta_key = key_of(db, "rep0@alpha.example"), key_of(db, "rep0@beta.example")
    won = api.post(f"/api/v1/leads/{lead}/claim", headers=bearer(beta_key))
    assert won.status_code == 200 and won.json()["account_id"] == beta
    late = api.post(f"/api/v1/leads/{lead}/claim", headers=bearer(alpha_key))
    assert late.status_code == 409 and late.json()["error"] == "AlreadyClaimed", late.text
    assert api.get(f"/api/v1/leads/{lead}", headers=bearer(alpha_key)).status_code == 404, "the offer was withdrawn"
    make.partner("Gamma")
    outsider = api.post(f"/api/v1/leads/{lead}/claim", headers=bearer(key_of(db, "rep0@gamma.example")))
    assert outsider.status_code == 404, "a partner never offered the lead does not learn it exists"
    assert make.prospect(lead).partner_account_id == beta


def test_fifty_simultaneous_claims_over_the_api_one_200_and_49_409(api: Api, make: Make, db: Database,
                                                                   service: LeadService) -> None:
    partners = [make.partner(f"Shark {n}") for n in range(50)]
    make.group("Tank", partners, model="shark_tank")
    service.save_rules([{"name": "tank", "target": "group:Tank"}])
    lead = make.lead()
    service.distribute(lead)
    tokens = [key_of(db, f"rep0@shark-{n}.example") for n in range(50)]
    barrier = threading.Barrier(len(tokens))

    def claim(token: str) -> tuple[int, str]:
        with requests.Session() as http:
            barrier.wait(timeout=60)
            answer = http.post(f"{api.base_url}/api/v1/leads/{lead}/claim", headers=bearer(token), timeout=60)
            return answer.status_code, answer.json().get("error", "")

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        answers = list(pool.map(claim, tokens))
    assert Counter(answers) == {(200, ""): 1, (409, "AlreadyClaimed"): 49}, Counter(answers)
    winner = partners[[code for code, _ in answers].index(200)]
    assert make.prospect(lead).partner_account_id == winner


def test_reject_over_the_api_redistributes_past_the_partner(api: Api, make: Make, db: Database,
                                                            service: LeadService) -> None:
    alpha, beta = make.partner("Alpha"), make.partner("Beta")
    make.group("Both", [alpha, beta])
    service.save_rules([{"name": "rr", "target": "group:Both"}])
    lead = make.lead()
    first = service.distribute(lead).account_id
    holder_key = key_of(db, "rep0@alpha.example" if first == alpha else "rep0@beta.example")
    assert api.post(f"/api/v1/leads/{lead}/reject", headers=bearer(holder_key), json={}).status_code == 422
    moved = api.post(f"/api/v1/leads/{lead}/reject", headers=bearer(holder_key), json={"reason": "not our market"})
    assert moved.status_code == 200 and moved.json()["account_id"] not in (None, first)


def test_inactive_users_and_accounts_are_refused(api: Api, make: Make, db: Database) -> None:
    alpha = make.partner("Alpha", users=2)
    first, second = make.users_of(alpha)
    key_one, key_two = key_of(db, "rep0@alpha.example"), key_of(db, "rep1@alpha.example")
    assert api.get("/api/v1/inbox", headers=bearer(key_one)).status_code == 200
    make.update(PartnerUser, first, active=False)
    assert api.get("/api/v1/inbox", headers=bearer(key_one)).status_code == 401
    assert api.get("/api/v1/inbox", headers=bearer(key_two)).status_code == 200
    make.update(PartnerAccount, alpha, active=False)
    assert api.get("/api/v1/inbox", headers=bearer(key_two)).status_code == 401


def test_cli_issues_a_working_key_stored_only_hashed_and_revokes_it(api: Api, make: Make, db: Database,
                                                                    tmp_path: Path) -> None:
    make.partner("Alpha")
    config = tmp_path / "config.yaml"
    config.write_text(f'database: {{url: "{db.engine.url.render_as_string(hide_password=False)}"}}\n')
    runner = CliRunner()
    issued = runner.invoke(main, ["--config", str(config), "api-key", "issue", "REP0@alpha.example"])
    assert issued.exit_code == 0, issued.output
    key = issued.stdout.strip()
    assert key.startswith("upm_") and len(key) > 40
    with db.session() as s:
        stored = s.scalar(select(PartnerUser.api_key_hash).where(PartnerUser.email == "rep0@alpha.example"))
    assert stored == keys.key_hash(key) and key not in (stored or "")
    assert api.get("/api/v1/inbox", headers=bearer(key)).status_code == 200
    revoked = runner.invoke(main, ["--config", str(config), "api-key", "revoke", "rep0@alpha.example"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert api.get("/api/v1/inbox", headers=bearer(key)).status_code == 401
    unknown = runner.invoke(main, ["--config", str(config), "api-key", "issue", "nobody@x.example"])
    assert unknown.exit_code == 1 and "no partner user nobody@x.example" in unknown.output
