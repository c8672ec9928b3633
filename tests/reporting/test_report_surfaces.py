"""The reports by command (CSV, XLSX, JSON), by API (vendor key: everyone; partner key: its own
figures) and as a page with a server-rendered chart."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from openpyxl import load_workbook

from connector.api import keys
from connector.api.app import create_app
from connector.cli import main
from connector.clock import ManualClock
from connector.config.secrets import Secret
from connector.config.settings import HttpSettings, LeadSettings
from connector.leads.service import LeadService
from connector.store import Database
from crm_emulators.runner import BackgroundServer
from reporting.expected import Case, dashboard, pipeline_by_stage
from reporting.seed import NOW, Seed, seed

VENDOR_KEY = "vendor-key-for-reports"


@pytest.fixture
def seeded(db: Database) -> Seed:
    return seed(db)


def cli(db: Database, *args: str) -> Any:
    return CliRunner().invoke(main, ["report", *args], env={"UPM_DATABASE_URL": db.url}, catch_exceptions=False)


def test_report_command_writes_csv_json_and_xlsx(db: Database, seeded: Seed, tmp_path: Path) -> None:
    result = cli(db, "partner-dashboard", "--tier", "Gold")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = dashboard(Case(seeded, tier="Gold"))
    assert [(int(r["partner_id"]), int(r["prospects"]), float(r["value_USD"])) for r in rows] == \
        [(r["partner_id"], r["prospects"], r["value_USD"]) for r in expected]
    result = cli(db, "pipeline-by-stage", "--format", "json", "--from", "2026-02-01", "--to", "2026-05-01T00:00:00Z")
    body = json.loads(result.stdout)
    period = Case(seeded, period=(NOW.replace(month=2), NOW.replace(month=5)))
    assert [(r["stage"], r["currency"], r["opportunities"]) for r in body["rows"]] == \
        [(r["stage"], r["currency"], r["opportunities"]) for r in pipeline_by_stage(period)]
    assert body["summary"]["opportunities"] == sum(r["opportunities"] for r in body["rows"])
    out = tmp_path / "ranking.xlsx"
    result = cli(db, "partner-ranking", "--format", "xlsx", "--output", str(out))
    assert result.exit_code == 0 and "5 rows written" in result.stderr
    book = load_workbook(out)
    sheet = book["partner-ranking"]
    assert [c.value for c in sheet[1]][:3] == ["rank", "id", "partner"] and sheet.max_row == 6
    assert book["Summary"]["A1"].value == "currency" and book["Summary"]["B1"].value == "USD"


def test_report_command_refuses_bad_filters_by_name(db: Database, seeded: Seed) -> None:
    result = CliRunner().invoke(main, ["report", "partner-dashboard", "--group", "Nowhere"],
                                env={"UPM_DATABASE_URL": db.url})
    assert result.exit_code == 2 and "group 'Nowhere' does not exist" in result.output
    result = CliRunner().invoke(main, ["report", "partner-dashboard", "--from", "yesterday"],
                                env={"UPM_DATABASE_URL": db.url})
    assert result.exit_code == 2 and "--from" in result.output and "'yesterday'" in result.output
    result = CliRunner().invoke(main, ["report", "partner-dashboard", "--format", "xlsx"],
                                env={"UPM_DATABASE_URL": db.url})
    assert result.exit_code == 2 and "--output" in result.output


@pytest.fixture
def base_url(db: Database) -> Iterator[str]:
    clock = ManualClock(NOW)
    service = LeadService(db, LeadSettings(), clock)
    http = HttpSettings(api_keys={"vendor": Secret(VENDOR_KEY, "test")})
    with BackgroundServer(create_app(db, lambda: True, service, http, clock=clock)) as server:
        yield server.base_url


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_api_gives_a_vendor_every_partner_and_a_partner_its_own(db: Database, seeded: Seed, base_url: str) -> None:
    alpha = seeded.partner_id("Alpha")
    with db.session() as s:
        partner_key = keys.issue(s, "rep0@alpha.example")
    everyone = requests.get(f"{base_url}/api/v1/reports/partner-dashboard", headers=bearer(VENDOR_KEY), timeout=30)
    assert everyone.status_code == 200
    assert [r["partner_id"] for r in everyone.json()["rows"]] == [p["id"] for p in seeded.partners]
    own = requests.get(f"{base_url}/api/v1/reports/partner-dashboard", headers=bearer(partner_key), timeout=30).json()
    expected = dashboard(Case(seeded, viewer_of="Alpha"))
    assert own["rows"] == [{**r, "tier": r["tier"]} for r in expected]
    assert {r["partner_id"] for r in own["rows"]} == {alpha, seeded.partner_id("Alpha West")}
    asked = requests.get(f"{base_url}/api/v1/reports/partner-dashboard", params={"partner": seeded.partner_id("Beta")},
                         headers=bearer(partner_key), timeout=30).json()
    assert asked["rows"] == [], "a partner key asking for another partner gets nothing"
    assert requests.get(f"{base_url}/api/v1/reports/partner-dashboard", timeout=30).status_code == 401
    missing = requests.get(f"{base_url}/api/v1/reports/nope", headers=bearer(VENDOR_KEY), timeout=30)
    assert missing.status_code == 404 and "partner-dashboard" in missing.json()["detail"]
    bad = requests.get(f"{base_url}/api/v1/reports/lead-acceptance", params={"from": "soon"},
                       headers=bearer(VENDOR_KEY), timeout=30)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "from" and bad.json()["detail"][0]["value"] == "soon"
    bad = requests.get(f"{base_url}/api/v1/reports/rep-ranking", params={"currency": "EUR"},
                       headers=bearer(VENDOR_KEY), timeout=30)
    assert bad.status_code == 422 and "EUR" in bad.json()["detail"][0]["message"]


def test_report_page_renders_the_chart_and_the_table(db: Database, seeded: Seed, base_url: str) -> None:
    page = requests.get(f"{base_url}/reports/pipeline-by-segment", params={"tier": "Gold"},
                        headers=bearer(VENDOR_KEY), timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<svg" in html and "</svg>" in html and "pygal-tooltips" not in html, "no script is fetched from elsewhere"
    assert "Tier Gold." in html and "<th>segment</th>" in html
    assert html.count("<tr>") - 1 == len(requests.get(f"{base_url}/api/v1/reports/pipeline-by-segment",
                                                      params={"tier": "Gold"}, headers=bearer(VENDOR_KEY),
                                                      timeout=30).json()["rows"])
    assert requests.get(f"{base_url}/reports/pipeline-by-segment", timeout=30).status_code == 401
    empty = requests.get(f"{base_url}/reports/partner-adoption", params={"region": "ZZ"}, headers=bearer(VENDOR_KEY),
                         timeout=30)
    assert empty.status_code == 200 and "No figures for these filters." in empty.text and "<svg" not in empty.text
