"""The Lead Inbox in a real headless Chromium: each row shows the lead's score and its age in its
aging colour (a fresh lead green like an older one yellow or red), and logging an activity from
the inbox raises its scoring event, so the score shown grows. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from datetime import timedelta

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from connector.api.pages.web import COOKIE
from connector.leads.scoring import save_rules
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.aging import LeadConfigurationRule
from connector.store.records import Prospect
from leads.conftest import START, Make
from leads.test_pages import Site, site, sign_in  # noqa: F401 (the served pages fixture)
from support.browser import chromium, screenshot, shown

GREEN_BG, YELLOW_BG, RED_BG = "rgba(227, 245, 234, 1)", "rgba(255, 244, 224, 1)", "rgba(251, 233, 232, 1)"


def test_inbox_shows_scores_and_age_colours_and_an_activity_raises_the_score(
        site: Site, db: Database, make: Make, service: LeadService) -> None:  # noqa: F811
    partner = make.partner("Alpha")
    rep = make.users_of(partner)[0]
    with db.session() as s:
        save_rules(s, None, [{"name": "Meeting held", "event": "meeting", "points": 20},
                             {"name": "Executive", "field": "title", "values": ["VP"], "points": 10}])
        s.add(LeadConfigurationRule(name="Everywhere", green_days=3, yellow_days=7))
    leads = {}
    for key, email, title, age in (("fresh", "fresh@x.example", "VP Sales", 0), ("older", "older@x.example", "Buyer", 5),
                                   ("oldest", "oldest@x.example", "Buyer", 12)):
        lead = make.lead(email=email, title=title, last_name=key)
        service.assign(lead, f"user:{rep}", reason="test")
        service.accept(lead, rep)
        make.update(Prospect, lead, assigned_at=START - timedelta(days=age))
        leads[key] = lead
    signed_in = sign_in(site, "rep0@alpha.example")
    with chromium() as browser:
        browser.get(site.base_url + "/pages/sign-in")
        browser.add_cookie({"name": COOKIE, "value": signed_in.cookies[COOKIE], "path": "/pages"})
        browser.get(site.base_url + "/pages/inbox")
        shown(browser, "inbox")

        def cell(lead: int, name: str):  # type: ignore[no-untyped-def]
            return browser.find_element(By.CSS_SELECTOR, f"#lead-{lead} td.{name}")

        assert [cell(leads[k], "score").text for k in ("fresh", "older", "oldest")] == ["10", "0", "0"]
        ages = {k: cell(leads[k], "age") for k in leads}
        assert {k: a.get_attribute("class") for k, a in ages.items()} == {
            "fresh": "age green", "older": "age yellow", "oldest": "age red"}
        assert {k: a.value_of_css_property("background-color") for k, a in ages.items()} == {
            "fresh": GREEN_BG, "older": YELLOW_BG, "oldest": RED_BG}, "a fresh row is coloured like older ones"
        screenshot(browser, "inbox-scores-01")
        row = browser.find_element(By.ID, f"lead-{leads['older']}")
        Select(row.find_element(By.NAME, "kind")).select_by_value("meeting")
        row.find_element(By.NAME, "subject").send_keys("Demo")
        row.find_element(By.CSS_SELECTOR, "button.log").click()
        assert "Logged a meeting" in shown(browser, "done").text
        assert cell(leads["older"], "score").text == "20", "the meeting scored"
        assert cell(leads["fresh"], "score").text == "10"
        screenshot(browser, "inbox-scores-02-after-meeting")
    assert make.prospect(leads["older"]).lead_score == 20
