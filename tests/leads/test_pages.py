"""The pages over real HTTP (requests, no JavaScript): the Assign to Partner page opened by a
signed link, its actions behind the session and CSRF token, and the partner's emailed sign-in link
(a real SMTP server, aiosmtpd) and Lead Inbox, which shows exactly what visibility gives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from connector.api.app import create_app
from connector.auth.signatures import HS_SIGNATURE, HS_TIMESTAMP, hubspot_signature, sign_link
from connector.clock import ManualClock
from connector.config.secrets import Secret
from connector.config.settings import PagesSettings, Settings, SigningSettings
from connector.leads import lifecycle
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.bindings import Binding
from connector.store.records import Prospect
from crm_emulators.runner import BackgroundServer, free_port
from leads.conftest import Make
from leads.support_delivery import SmtpServer, smtp_server

SECRET = "shared-secret-of-the-salesforce-button"
CONNECTION = "vendor-salesforce"
CRM_ID = "00Q5e00000AbCdE"
HS_SECRET = "hubspot-app-client-secret"
ORIGINS = ["https://acme.lightning.force.com", "https://app.hubspot.com"]


@dataclass
class Site:
    base_url: str
    smtp: SmtpServer
    clock: ManualClock

    def signed(self, crm_id: str = CRM_ID, connection: str = CONNECTION) -> str:
        return self.base_url + sign_link(SECRET, f"/pages/crm/{connection}/leads/{crm_id}", int(self.clock.now().timestamp()))


@pytest.fixture
def site(db: Database, service: LeadService, clock: ManualClock) -> Iterator[Site]:
    port = free_port("127.0.0.1")
    base_url = f"http://127.0.0.1:{port}"
    with smtp_server() as smtp:
        settings = Settings(
            notifications=smtp.settings(),
            pages=PagesSettings(base_url=base_url, secure_cookies=False, frame_origins=ORIGINS,
                                signing={CONNECTION: SigningSettings(scheme="salesforce", secret=Secret(SECRET, "test")),
                                         "vendor-hubspot": SigningSettings(scheme="hubspot", secret=Secret(HS_SECRET, "test"))}))
        with BackgroundServer(create_app(db, lambda: True, service, settings.http, settings, clock), port=port):
            yield Site(base_url, smtp, clock)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def bind(db: Database, lead: int, crm_id: str = CRM_ID) -> None:
    with db.session() as s:
        s.add(Binding(connection=CONNECTION, crm_object="Lead", crm_id=crm_id, module="prospect", record_id=lead))


def test_the_signed_link_opens_a_short_vendor_session_once(site: Site, make: Make, db: Database) -> None:
    lead = make.lead(first_name="Ana", last_name="Lima", company_name="Globex")
    bind(db, lead)
    link = site.signed()
    browser = requests.Session()
    opened = browser.get(link, allow_redirects=False, timeout=30)
    assert opened.status_code == 303 and opened.headers["Location"] == f"/pages/assign/{lead}"
    cookie = opened.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/pages" in cookie and "Max-Age=1800" in cookie
    page = browser.get(site.base_url + f"/pages/assign/{lead}", timeout=30)
    assert page.status_code == 200 and "Ana Lima" in page.text and "Globex" in page.text
    assert page.headers["Content-Security-Policy"].endswith("frame-ancestors " + " ".join(ORIGINS))
    assert page.headers["X-Content-Type-Options"] == "nosniff"

    replay = requests.get(link, allow_redirects=False, timeout=30)
    assert replay.status_code == 403 and "already used" in replay.text
    tampered = requests.get(site.signed().replace(CRM_ID, CRM_ID[:-1] + "F"), allow_redirects=False, timeout=30)
    assert tampered.status_code == 403 and "does not match" in tampered.text
    unsigned = requests.get(site.base_url + f"/pages/crm/{CONNECTION}/leads/{CRM_ID}", timeout=30)
    assert unsigned.status_code == 403 and "missing" in unsigned.text
    unused = site.signed()
    site.clock.advance(minutes=5, seconds=1)
    stale = requests.get(unused, timeout=30)
    assert stale.status_code == 403 and "off the server" in stale.text
    assert requests.get(site.base_url + f"/pages/assign/{lead}", timeout=30).status_code == 401, "no session, no page"
    site.clock.advance(minutes=25)
    assert browser.get(site.base_url + f"/pages/assign/{lead}", timeout=30).status_code == 401, "the session ended"


def test_unknown_crm_lead_is_404_and_unknown_connection_403(site: Site) -> None:
    assert requests.get(site.signed("00Q000000000000AAA"), timeout=30).status_code == 404
    assert requests.get(site.signed(connection="other"), timeout=30).status_code == 403


def open_page(site: Site, db: Database, lead: int) -> tuple[requests.Session, str]:
    bind(db, lead)
    browser = requests.Session()
    page = browser.get(site.signed(), timeout=30)
    assert page.status_code == 200
    return browser, page.text


def test_generate_the_list_then_assign_named_partner_with_a_reason_and_csrf(site: Site, make: Make,
                                                                            db: Database) -> None:
    alpha, _beta = make.partner("Alpha"), make.partner("Beta", countries=["JP"])
    lead = make.lead(country="US")
    make.update(Prospect, lead, lead_score=37)
    browser, page = open_page(site, db, lead)
    assert '<dt>Lead Score</dt><dd id="lead-score">37</dd>' in page, "the Assign page shows the score"
    listed = browser.get(site.base_url + f"/pages/assign/{lead}?partners=1", timeout=30).text
    rows = re.findall(r'<tr class="(ok|no)">\s*<td>(\d+)</td><td>(\w+)</td>', listed)
    assert rows == [("ok", "1", "Alpha"), ("no", "2", "Beta")]
    assert "Geographical Match" in listed and "does not cover US" in listed
    url = site.base_url + f"/pages/assign/{lead}/named"
    form = {"account": str(alpha), "reason": "", "notify": "1", "csrf": csrf_of(page)}
    assert browser.post(url, data=form, timeout=30).status_code == 422
    assert make.prospect(lead).distribution_state == lifecycle.NEW
    assert browser.post(url, data={**form, "reason": "CAM's pick", "csrf": "forged"}, timeout=30).status_code == 403
    assert requests.post(url, data={**form, "reason": "x"}, timeout=30).status_code == 401
    assert make.prospect(lead).distribution_state == lifecycle.NEW
    done = browser.post(url, data={**form, "reason": "CAM's pick"}, timeout=30)
    assert done.status_code == 200 and 'id="outcome"' in done.text and "assigned" in done.text
    assert (make.prospect(lead).partner_account_id, make.prospect(lead).distribution_state) == (alpha, lifecycle.ASSIGNED)
    assert "CAM&#39;s pick" in done.text and f"crm:{CONNECTION}" in done.text, "the history shows it"
    assert make.emails("assignment") == [("assignment", "rep0@alpha.example")]

    quiet = browser.post(url, data={"account": str(alpha), "reason": "again, quietly", "csrf": csrf_of(page)}, timeout=30)
    assert quiet.status_code == 200 and len(make.emails("assignment")) == 1, "Notify unchecked: no email"


def test_group_round_robin_and_shark_tank_from_the_page(site: Site, make: Make, db: Database) -> None:
    a, b = make.partner("A"), make.partner("B")
    make.group("Resellers", [a, b])
    lead = make.lead()
    browser, page = open_page(site, db, lead)
    url = site.base_url + f"/pages/assign/{lead}/group"
    form = {"group": "Resellers", "how": "round_robin", "reason": "rotation", "notify": "1", "csrf": csrf_of(page)}
    assert browser.post(url, data=form, timeout=30).status_code == 200
    assert make.prospect(lead).partner_account_id == a and make.grants(lead) == {("account", a, "Read-Write")}
    assert browser.post(url, data={**form, "how": "shark_tank"}, timeout=30).status_code == 200
    assert make.prospect(lead).distribution_state == lifecycle.POOL
    assert {g[:2] for g in make.grants(lead)} == {("account", a), ("account", b)}
    nobody = browser.post(url, data={**form, "group": "Nope"}, timeout=30)
    assert nobody.status_code == 422 and "Nope" in nobody.text


def sign_in(site: Site, email: str) -> requests.Session:
    browser = requests.Session()
    form = browser.get(site.base_url + "/pages/sign-in", timeout=30)
    sent = browser.post(site.base_url + "/pages/sign-in", data={"email": email, "csrf": csrf_of(form.text)}, timeout=30)
    assert sent.status_code == 200 and "sign-in link is on its way" in sent.text
    (mail,) = site.smtp.recorder.to(email)
    link = re.search(r"(http://\S+/pages/sign-in/\S+)", mail.message.get_content())
    assert link, mail.message.get_content()
    confirm = browser.get(link.group(1), timeout=30)
    assert confirm.status_code == 200 and email in confirm.text
    signed_in = browser.post(link.group(1), data={"csrf": csrf_of(confirm.text)}, allow_redirects=False, timeout=30)
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/pages/inbox"
    assert "HttpOnly" in signed_in.headers["Set-Cookie"]
    again = requests.Session().post(link.group(1), data={"csrf": csrf_of(confirm.text)}, timeout=30)
    assert again.status_code in (403, 410), "used once"
    assert requests.get(link.group(1), timeout=30).status_code == 410
    return browser


def test_partner_signs_in_by_email_sees_only_their_leads_and_accepts(site: Site, make: Make, db: Database,
                                                                     service: LeadService) -> None:
    alpha, _beta = make.partner("Alpha"), make.partner("Beta")
    lead = make.lead(first_name="Ana", last_name="Lima", company_name="Globex", title="CTO", phone="+1 555 0100")
    service.assign(lead, f"account:{alpha}", reason="CAM's pick")
    other = make.lead(email="other@x.example", company_name="Elsewhere")
    service.assign(other, "account:Beta", reason="not Alpha's")

    nobody = requests.Session()
    form = nobody.get(site.base_url + "/pages/sign-in", timeout=30)
    assert nobody.post(site.base_url + "/pages/sign-in", data={"email": "stranger@x.example", "csrf": csrf_of(form.text)},
                       timeout=30).text.count("on its way") == 1
    assert nobody.post(site.base_url + "/pages/sign-in", data={"email": "rep0@alpha.example"}, timeout=30).status_code == 403
    assert site.smtp.recorder.received == [], "no email for a stranger or a form without its token"

    alpha_browser = sign_in(site, "rep0@alpha.example")
    inbox = alpha_browser.get(site.base_url + "/pages/inbox", timeout=30).text
    assert f'id="lead-{lead}"' in inbox and f'id="lead-{other}"' not in inbox and "Elsewhere" not in inbox
    for column in ("Date Assigned", "Company", "Name", "Title", "Email", "Phone", "Favorite", "Flag"):
        assert f"<th>{column}</th>" in inbox
    assert "Ana Lima" in inbox and "CTO" in inbox and "+1 555 0100" in inbox and "03/02/2026" in inbox
    csrf = csrf_of(inbox)
    refused = alpha_browser.post(site.base_url + f"/pages/inbox/{other}/accept", data={"csrf": csrf}, timeout=30)
    assert refused.status_code == 404 and make.prospect(other).distribution_state == lifecycle.ASSIGNED
    assert alpha_browser.post(site.base_url + f"/pages/inbox/{lead}/accept", data={}, timeout=30).status_code == 403
    no_reason = alpha_browser.post(site.base_url + f"/pages/inbox/{lead}/reject", data={"csrf": csrf, "reason": " "},
                                   timeout=30)
    assert no_reason.status_code == 422
    accepted = alpha_browser.post(site.base_url + f"/pages/inbox/{lead}/accept", data={"csrf": csrf}, timeout=30)
    assert accepted.status_code == 200 and make.prospect(lead).distribution_state == lifecycle.ACCEPTED
    logged = alpha_browser.post(site.base_url + f"/pages/inbox/{lead}/activity",
                                data={"csrf": csrf, "kind": "call", "subject": "first call"}, timeout=30)
    assert logged.status_code == 200 and "Logged a call" in logged.text
    assert make.prospect(lead).last_activity_at == site.clock.now()
    vendor_page = alpha_browser.get(site.base_url + f"/pages/assign/{lead}", timeout=30)
    assert vendor_page.status_code == 401, "a partner session is not a vendor session"


def test_partner_claims_from_the_shark_tank_and_rejects_with_a_reason(site: Site, make: Make, db: Database,
                                                                     service: LeadService) -> None:
    a, b = make.partner("A"), make.partner("B")
    make.group("Tank", [a, b], model="shark_tank")
    pooled = service.send_to_shark_tank(make.lead(), "Tank", reason="first come").prospect_id
    browser = sign_in(site, "rep0@a.example")
    inbox = browser.get(site.base_url + "/pages/inbox", timeout=30).text
    assert "Claim</button>" in inbox
    claimed = browser.post(site.base_url + f"/pages/inbox/{pooled}/claim", data={"csrf": csrf_of(inbox)}, timeout=30)
    assert claimed.status_code == 200 and make.prospect(pooled).partner_account_id == a

    given = make.lead(email="second@x.example")
    service.assign(given, "account:A", reason="for A")
    inbox = browser.get(site.base_url + "/pages/inbox", timeout=30).text
    rejected = browser.post(site.base_url + f"/pages/inbox/{given}/reject",
                            data={"csrf": csrf_of(inbox), "reason": "outside our region"}, timeout=30)
    assert rejected.status_code == 200 and a in make.prospect(given).previous_holder_ids


def test_a_hubspot_signed_request_opens_the_page_once(site: Site, make: Make, db: Database) -> None:
    lead = make.lead(first_name="Kai", last_name="Ito")
    with db.session() as s:
        s.add(Binding(connection="vendor-hubspot", crm_object="contacts", crm_id="501", module="prospect", record_id=lead))
    url = site.base_url + "/pages/crm/vendor-hubspot/leads/501?portalId=62515"
    stamp = str(int(site.clock.now().timestamp() * 1000))
    headers = {HS_SIGNATURE: hubspot_signature(HS_SECRET, "GET", url, b"", stamp), HS_TIMESTAMP: stamp}
    browser = requests.Session()
    opened = browser.get(url, headers=headers, timeout=30)
    assert opened.status_code == 200 and "Kai Ito" in opened.text
    assert requests.get(url, headers=headers, timeout=30).status_code == 403, "replay"
    wrong = {HS_SIGNATURE: hubspot_signature("another", "GET", url, b"", stamp), HS_TIMESTAMP: stamp}
    assert requests.get(url, headers=wrong, timeout=30).status_code == 403
