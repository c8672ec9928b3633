"""`upm-connector partners|users|groups|named-accounts|directory` as an operator uses them: onboarding
end to end, deactivation saying where the leads went, imports with bad rows, seeding."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from connector.cli import main
from connector.store import Database
from leads.conftest import Make


@pytest.fixture
def cli(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)

    def run(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(main, list(args), env={"UPM_DATABASE_URL": db.url})
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result
    return run


def test_onboard_a_partner_then_issue_a_key_and_assign_a_lead(cli, make: Make) -> None:  # type: ignore[no-untyped-def]
    lead = make.lead()
    assert "partner Acme added (id 1)" in cli("partners", "add", "Acme", "--tier", "Gold", "--countries", "US,CA").output
    assert "user rep@acme.example added to Acme as sales" in cli(
        "users", "add", "rep@acme.example", "--partner", "Acme", "--role", "sales").output
    assert cli("api-key", "issue", "rep@acme.example").output.startswith("upm_")
    assert "holder account 1" in cli("leads", "assign", str(lead), "--to", "account:Acme", "--reason", "onboarding").output
    cli("partners", "add", "Acme Child", "--parent", "Acme")
    cli("groups", "add", "US resellers", "--members", "Acme=rep@acme.example,Acme Child", "--criteria", "tier=Gold")
    cli("named-accounts", "add", "Initech", "--partner", "Acme", "--rep", "rep@acme.example")

    partners = json.loads(cli("partners", "list", "--json").output)
    assert [(p["name"], p["tier"], p["countries"], p["parent"], p["users"]) for p in partners] == [
        ("Acme", "Gold", ["US", "CA"], None, 1), ("Acme Child", None, [], "Acme", 0)]
    shown = json.loads(cli("users", "show", "rep@acme.example", "--json").output)
    assert (shown["partner"], shown["role"], shown["has_api_key"]) == ("Acme", "sales", True)
    group = json.loads(cli("groups", "show", "US resellers", "--json").output)
    assert [(m["partner"], m["rep"]) for m in group["members"]] == [("Acme", "rep@acme.example"), ("Acme Child", None)]
    assert group["criteria"] == {"tier": ["Gold"]}
    table = cli("partners", "list").output
    assert "Acme Child" in table and "US, CA" in table
    assert "Initech" in cli("named-accounts", "list").output

    assert cli("partners", "add", "Bad", "--parent", "Nope", code=1).output.strip() == \
        "Error: parent: 'Nope' is not a partner"
    assert "Error: email: 'rep@acme.example' is already the email of user 1" in cli(
        "users", "add", "rep@acme.example", "--partner", "Acme", code=1).output
    assert "Error: no partner 'Ghost'" in cli("partners", "show", "Ghost", code=1).output

    out = cli("partners", "deactivate", "Acme").output
    assert "partner Acme deactivated; 1 lead(s) pulled back and redistributed" in out
    assert f"lead {lead}: open (Open)" in out, "no rule matches: the open pool (the fallback)"


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    return path


def test_import_partners_and_users_with_bad_rows(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    partners = write_csv(tmp_path / "partners.csv", [
        ["Name", "Tier", "Parent", "Countries", "Auto Accept", "Notes"],
        ["Acme", "Gold", "", "US;CA", "yes", "x"],
        ["Acme West", "Silver", "Acme", "US", "no", ""],
        ["Broken", "", "Nowhere", "", "", ""],
        ["Wrong Land", "", "", "US;Atlantis", "", ""],
        ["Unsure", "", "", "", "maybe", ""],
    ])
    result = cli("partners", "import", str(partners), "--error-report", "errors.xlsx", "--failed-rows", "retry.csv",
                 code=1)
    assert "5 partners row(s) read; 2 created, 0 updated, 3 failed; ignored column(s): Notes" in result.output
    assert f"{partners}:4: Parent (column C): 'Nowhere' is not a partner" in result.output
    assert f"{partners}:5: Countries (column D): 'Atlantis' is not an ISO 3166 country code" in result.output
    assert f"{partners}:6: Auto Accept (column E): 'maybe' is not yes or no" in result.output
    report = load_workbook(tmp_path / "errors.xlsx").active
    assert [list(r) for r in report.iter_rows(min_row=2, max_col=3, values_only=True)] == [
        [4, "Parent", "Nowhere"], [5, "Countries", "US;Atlantis"], [6, "Auto Accept", "maybe"]]
    with (tmp_path / "retry.csv").open(encoding="utf-8") as f:
        retry = list(csv.reader(f))
    assert [row[0] for row in retry] == ["Name", "Broken", "Wrong Land", "Unsure"]
    shown = json.loads(cli("partners", "show", "Acme", "--json").output)
    assert (shown["auto_accept"], shown["countries"], shown["children"]) == (True, ["US", "CA"], ["Acme West"])

    write_csv(tmp_path / "retry.csv", [retry[0], ["Broken", "", "Acme", "", "", ""]])
    assert "1 created, 0 updated, 0 failed" in cli("partners", "import", "retry.csv").output
    write_csv(partners, [["Name", "Tier"], ["Acme", "Platinum"]])
    assert "0 created, 1 updated, 0 failed" in cli("partners", "import", str(partners)).output
    assert json.loads(cli("partners", "show", "Acme", "--json").output)["tier"] == "Platinum"

    users = write_csv(tmp_path / "users.csv", [
        ["Email", "Partner", "First Name", "Role"],
        ["rep@acme.example", "Acme", "Ray", "sales"],
        ["not-an-email", "Acme", "", ""],
        ["boss@acme.example", "Acme", "", "boss"],
        ["lost@acme.example", "Ghost", "", ""],
    ])
    result = cli("users", "import", str(users), code=1)
    assert "4 users row(s) read; 1 created, 0 updated, 3 failed" in result.output
    assert f"{users}:3: Email (column A): 'not-an-email' is not a valid email address" in result.output
    assert f"{users}:4: Role (column D): 'boss' is invalid" in result.output
    assert f"{users}:5: Partner (column B): 'Ghost' is not a partner" in result.output
    assert "error: " in cli("users", "import", str(write_csv(tmp_path / "nokey.csv", [["Name"], ["x"]])),
                            code=2).output


def test_directory_seed_applies_the_config_once(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "config.yaml"
    config.write_text("directory:\n"
                      "  partners:\n"
                      "    - {name: Acme Resellers, tier: Gold, countries: [US]}\n"
                      "  users:\n"
                      "    - {email: rep@acme.example, partner: Acme Resellers}\n"
                      "    - {email: lost@acme.example, partner: Nobody}\n", encoding="utf-8")
    first = cli("--config", str(config), "directory", "seed", code=1)
    assert "directory seed: 2 created, 0 already there, 1 problem(s)" in first.output
    assert f"error: {config}:6: directory.users[1]: partner: 'Nobody' is not a partner" in first.output
    second = cli("--config", str(config), "directory", "seed", code=1)
    assert "0 created, 2 already there" in second.output


def test_the_embedded_defaults_seed_a_demo_directory(cli) -> None:  # type: ignore[no-untyped-def]
    assert "0 problem(s)" in cli("directory", "seed").output
    users = json.loads(cli("users", "list", "--partner", "Acme Resellers", "--json").output)
    assert "rep@acme.example" in [u["email"] for u in users]
    assert cli("api-key", "issue", "rep@acme.example").output.startswith("upm_")


def test_the_readme_onboarding_walk_through_works_as_written(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The commands of README "### Onboard a partner", run in an empty folder (in process: each
    `upm-connector` line through click, `printf` and `> FILE` as a shell does them), print what the
    README says the last one prints."""
    import shlex

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Onboard a partner", 1)[1]
    script = section.split("```sh\n", 1)[1].split("```", 1)[0]
    printed = section.split("The last command says what happened to the partner's leads:\n\n```\n", 1)[1]
    output = ""
    for line in script.splitlines():
        words = shlex.split(line)
        if words[0] == "printf":
            assert words[2] == ">"
            (tmp_path / words[3]).write_text(words[1].encode().decode("unicode_escape"), encoding="utf-8")
            continue
        assert words[0] == "upm-connector", line
        target = None
        if ">" in words:
            words, target = words[:words.index(">")], words[words.index(">") + 1]
        output = cli(*words[1:]).stdout
        if target is not None:
            (tmp_path / target).write_text(output, encoding="utf-8")
    assert output == printed.split("```", 1)[0]
    assert (tmp_path / "sam.key").read_text().startswith("upm_")
