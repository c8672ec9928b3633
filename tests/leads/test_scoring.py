"""Lead scoring: rules from a file, applied as activities, new leads and field changes arrive,
every change in the score history with its rule and campaign, and the high-score alert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from connector.api.leads import lead_json
from connector.cli import main
from connector.config.settings import LeadSettings
from connector.leads.scoring import history, record_event
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.assignments import LeadScoreHistory
from connector.store.records import Campaign, Prospect
from leads.conftest import CAM, Make

RULES = """\
threshold: 40
rules:
  - name: Meeting held
    event: meeting
    points: 20
  - name: Call
    event: call
    points: 5
  - name: Spring webinar
    event: campaign_response
    campaign: {campaign}
    points: 15
  - name: Form fill
    event: form
    points: 7
  - name: Executive
    field: title
    contains: [VP, Chief]
    points: 10
  - name: Target industry
    field: industry
    in: [Software]
    points: 8
  - name: Mid-size
    field: size
    min: 100
    max: 999
    points: 4
  - name: Referral
    field: source
    in: [Partner Referral]
    points: 6
"""


@pytest.fixture
def settings() -> LeadSettings:
    return LeadSettings(review_recipients=[CAM])


@pytest.fixture
def campaigns(db: Database) -> tuple[int, int]:
    with db.session() as s:
        spring, other = Campaign(name="Spring webinar"), Campaign(name="Autumn mailer")
        s.add_all([spring, other])
        s.flush()
        return spring.id, other.id


@pytest.fixture
def rules(db: Database, campaigns: tuple[int, int], tmp_path: Path) -> Path:
    path = tmp_path / "scoring.yaml"
    path.write_text(RULES.format(campaign=campaigns[0]))
    result = CliRunner().invoke(main, ["scoring", "rules", "set", str(path)], env={"UPM_DATABASE_URL": db.url},
                                catch_exceptions=False)
    assert result.exit_code == 0 and "8 scoring rules saved; high-score threshold 40" in result.output
    return path


def changes(db: Database, lead: int) -> list[tuple[str | None, int | None, int]]:
    with db.session() as s:
        return [(h.rule, h.campaign_id, h.score) for h in history(s, lead)]


def score(db: Database, lead: int) -> int:
    with db.session() as s:
        prospect = s.get(Prospect, lead)
        assert prospect is not None
        return prospect.lead_score


def test_field_rules_score_a_new_lead_and_follow_its_changes(db: Database, rules: Path, make: Make,
                                                             campaigns: tuple[int, int]) -> None:
    spring, other = campaigns
    lead = make.lead(title="VP of Sales", industry="software", company_employees=50, campaign_id=spring)
    assert changes(db, lead) == [("Executive", spring, 10), ("Target industry", spring, 8), ("Spring webinar", spring, 15)]
    assert score(db, lead) == 33
    make.update(Prospect, lead, title="Intern", company_employees=250)
    assert changes(db, lead)[3:] == [("Executive", spring, -10), ("Mid-size", spring, 4)]
    make.update(Prospect, lead, company_employees=300, first_name="Renamed")
    assert score(db, lead) == 27, "a lead still matching a field rule is not scored twice"
    elsewhere = make.lead(email="b@x.example", campaign_id=other, lead_source="Partner Referral")
    assert changes(db, elsewhere) == [("Referral", other, 6)], "the campaign rule counts for its campaign only"


def test_activities_score_as_they_are_logged_and_a_high_score_alerts_once(
        db: Database, rules: Path, make: Make, service: LeadService, campaigns: tuple[int, int]) -> None:
    partner = make.partner("Acme")
    rep = make.users_of(partner)[0]
    lead = make.lead(title="Chief Buyer", campaign_id=campaigns[1])
    service.assign(lead, f"user:{rep}", reason="named rep")
    service.accept(lead, rep)
    service.log_activity(lead, rep, "call", "Intro")
    service.log_activity(lead, rep, "note", "Not scored")
    assert score(db, lead) == 15 and make.emails("high_score") == []
    service.log_activity(lead, rep, "meeting", "Demo")
    assert changes(db, lead)[-1] == ("Meeting held", campaigns[1], 20)
    assert score(db, lead) == 35
    assert record_event(db, lead, "form", service.clock.now()) == 7
    assert score(db, lead) == 42
    assert sorted(make.emails("high_score")) == [("high_score", CAM), ("high_score", "rep0@acme.example")]
    service.log_activity(lead, rep, "meeting", "Second demo")
    assert score(db, lead) == 62 and len(make.emails("high_score")) == 2, "already above the threshold: no new alert"
    with db.session() as s:
        total = sum(s.scalars(select(LeadScoreHistory.score).where(LeadScoreHistory.prospect_id == lead)))
    assert total == 62, "the score is the sum of its history"
    with db.session() as s:
        prospect = s.get(Prospect, lead)
        assert prospect is not None and lead_json(prospect, None)["lead_score"] == 62, "the lead API shows the score"
    shown = CliRunner().invoke(main, ["scoring", "history", str(lead), "--json"], env={"UPM_DATABASE_URL": db.url})
    assert [row["rule"] for row in json.loads(shown.output)] == ["Executive", "Call", "Meeting held", "Form fill",
                                                                  "Meeting held"]


def test_rules_list_round_trips_and_a_bad_file_names_each_problem(db: Database, rules: Path, tmp_path: Path) -> None:
    listed = CliRunner().invoke(main, ["scoring", "rules", "list", "--json"], env={"UPM_DATABASE_URL": db.url})
    document = json.loads(listed.output)
    assert document["threshold"] == 40 and len(document["rules"]) == 8
    assert document["rules"][6] == {"name": "Mid-size", "points": 4, "active": True, "field": "size", "min": 100,
                                    "max": 999}
    bad = tmp_path / "bad.yaml"
    bad.write_text("threshold: -1\nrules:\n  - name: X\n    event: tweet\n    points: 1\n"
                   "  - name: Y\n    field: colour\n    points: two\n  - points: 3\n    field: title\n    contains: []\n")
    result = CliRunner().invoke(main, ["scoring", "rules", "set", str(bad)], env={"UPM_DATABASE_URL": db.url})
    assert result.exit_code == 2
    for problem in ("threshold -1 is not a positive whole number", "rule 1 (X): event 'tweet' is not one of",
                    "rule 2 (Y): field 'colour' is not one of", "rule 2 (Y): points 'two' is not a whole number",
                    "rule 3: name is required", "rule 3: title needs 'contains'"):
        assert problem in result.output, problem
    again = CliRunner().invoke(main, ["scoring", "rules", "list", "--json"], env={"UPM_DATABASE_URL": db.url})
    assert len(json.loads(again.output)["rules"]) == 8, "a refused file changes nothing"
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules:\n  - name: [unclosed\n")
    result = CliRunner().invoke(main, ["scoring", "rules", "set", str(broken)], env={"UPM_DATABASE_URL": db.url})
    assert result.exit_code == 2 and f"{broken}:" in result.output and "not valid YAML" in result.output


def test_a_lead_from_a_web_form_raises_the_form_event_once(db: Database, rules: Path, make: Make) -> None:
    lead = make.lead(lead_source=" Web  Form ")
    assert changes(db, lead) == [("Form fill", None, 7)]
    other = make.lead(email="trade@x.example", lead_source="Trade Show")
    assert changes(db, other) == [], "another source is no form fill"
    make.update(Prospect, other, lead_source="Web")
    assert changes(db, other) == [], "a form fill is an arrival: a later change of source is not one"
    make.update(Prospect, lead, first_name="Again")
    assert score(db, lead) == 7
