"""The whole flow in a real headless Chromium: a CRM user opens the Assign to Partner page from a
signed link for a Salesforce lead the connector has not synced (fetched from the emulator at
once), generates the partner list and assigns; the partner signs in by the emailed link (read from
the SMTP server), sees the lead in the inbox and accepts it. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import json
import re
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from connector.api.app import create_app
from connector.auth.signatures import sign_link
from connector.clock import SystemClock
from connector.config import load_settings
from connector.leads import lifecycle
from connector.leads.service import LeadService
from connector.runtime import Runtime
from connector.services.crm_leads import CrmLeads
from connector.store import Database
from crm_emulators.runner import BackgroundServer, free_port
from crm_emulators.salesforce import EmulatorOptions, serve_in_background
from leads.conftest import Make
from leads.support_delivery import smtp_server
from support.browser import chromium, screenshot, shown

REPO = Path(__file__).resolve().parents[2]
SECRET = "browser-test-button-secret"


def test_assign_from_the_crm_then_the_partner_accepts_in_the_inbox(tmp_path: Path, db: Database, make: Make) -> None:
    alpha = make.partner("Alpha Networks", countries=["USA"], tier="Gold")
    make.partner("Beta Systems", countries=["JPN"])
    port = free_port("127.0.0.1")
    base_url = f"http://127.0.0.1:{port}"
    (tmp_path / "secret").write_text(SECRET)
    with serve_in_background(EmulatorOptions(), state_dir=tmp_path / "sf") as crm, smtp_server() as smtp:
        (tmp_path / "sf.json").write_text(json.dumps(crm.credentials))
        (tmp_path / "config.yaml").write_text(f"""
database: {{url: "sqlite:///unused.db"}}
secrets: {{key_file: upm.key}}
connections:
  vendor-salesforce:
    adapter: salesforce
    auth: {{type: credentials_file, file: sf.json}}
    mapping: {REPO / "mappings" / "salesforce" / "complete.yaml"}
notifications:
  enabled: true
  from_address: leads@vendor.example
  smtp: {{host: 127.0.0.1, port: {smtp.port}}}
pages:
  base_url: {base_url}
  secure_cookies: false
  frame_origins: [https://acme.lightning.force.com]
  signing:
    vendor-salesforce: {{scheme: salesforce, secret: "file:secret"}}
""")
        settings = load_settings(tmp_path / "config.yaml")
        clock = SystemClock()
        runtime = Runtime(settings, clock=clock, db=db)
        crm_leads = CrmLeads(runtime)
        crm_id = crm.emulator.admin_upsert("Lead", {"FirstName": "Ana", "LastName": "Lima", "Company": "Globex",
                                                    "Title": "CTO", "Email": "ana@globex.example", "Phone": "+1 555 0100",
                                                    "Country": "United States"})
        app = create_app(db, lambda: True, LeadService(db, settings.leads, clock), settings.http, settings, clock,
                         crm_lead=crm_leads.prospect_id)
        try:
            with BackgroundServer(app, port=port):
                link = base_url + sign_link(SECRET, f"/pages/crm/vendor-salesforce/leads/{crm_id}",
                                            int(clock.now().timestamp()))
                with chromium() as browser:
                    browser.get(link)
                    assert "/pages/assign/" in browser.current_url
                    assert "Ana Lima" in browser.find_element(By.ID, "lead").text
                    screenshot(browser, "01-assign-page")
                    browser.find_element(By.ID, "generate").click()
                    table = shown(browser, "partner-list").text
                    assert table.index("Alpha Networks") < table.index("Beta Systems")
                    assert "does not cover USA" in table
                    screenshot(browser, "02-partner-list")
                    Select(browser.find_element(By.ID, "account")).select_by_value(str(alpha))
                    browser.find_element(By.ID, "reason").send_keys("Gold partner in the territory")
                    browser.find_element(By.ID, "share").click()
                    assert "assigned" in shown(browser, "outcome").text
                    assert "Gold partner in the territory" in browser.find_element(By.ID, "history").text
                    screenshot(browser, "03-assigned")
                with chromium() as partner:
                    partner.get(base_url + "/pages/sign-in")
                    partner.find_element(By.ID, "email").send_keys("rep0@alpha-networks.example")
                    partner.find_element(By.ID, "send-link").click()
                    assert "on its way" in shown(partner, "message").text
                    (mail,) = smtp.recorder.to("rep0@alpha-networks.example")
                    found = re.search(r"(http://\S+/pages/sign-in/\S+)", mail.message.get_content())
                    assert found
                    partner.get(found.group(1))
                    shown(partner, "sign-in").click()
                    shown(partner, "inbox")
                    assert partner.current_url.endswith("/pages/inbox")
                    row = partner.find_element(By.CSS_SELECTOR, "#inbox tbody tr")
                    assert "Globex" in row.text and "Ana Lima" in row.text and "CTO" in row.text
                    screenshot(partner, "04-inbox")
                    row.find_element(By.CSS_SELECTOR, "button.accept").click()
                    assert "accepted" in shown(partner, "outcome").text
                    screenshot(partner, "05-accepted")
        finally:
            crm_leads.close()
    prospect_id = crm_leads.bound("vendor-salesforce", crm_id)
    assert prospect_id is not None
    assert (make.prospect(prospect_id).distribution_state, make.prospect(prospect_id).partner_account_id) == (
        lifecycle.ACCEPTED, alpha)
