"""`upm-connector leads ...` as an operator uses it."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner, Result

from connector.cli.leads import leads_group
from connector.store import Database
from leads.conftest import Make


@click.group()
@click.pass_context
def root(ctx: click.Context) -> None:
    """Stands in for `upm-connector` (which registers the leads group the same way)."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = None


root.add_command(leads_group)


@pytest.fixture
def leads(db: Database):  # type: ignore[no-untyped-def]
    def run(*args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(root, ["leads", *args], env={"UPM_DATABASE_URL": db.url})
        assert (result.exit_code == 0) is ok, result.output
        return result
    return run


def test_rules_add_list_and_test(leads, make: Make) -> None:  # type: ignore[no-untyped-def]
    make.group("US Resellers", [make.partner("Gold One", tier="Gold"), make.partner("Silver One", tier="Silver")])
    out = leads("rules", "add", "--name", "US gold", "--priority", "10", "--country", "US,CA", "--tier", "Gold",
                "--target", "group:US Resellers", "--model", "round_robin", "--access-type", "Read-Only").output
    assert "rule US gold saved (#10, group 1, round_robin)" in out
    leads("rules", "add", "--name", "fallback", "--priority", "20", "--target", "account:Silver One", "--inactive")
    listed = leads("rules", "list").output.splitlines()
    assert listed[0].startswith("#10 US gold [active] -> group 1 round_robin Read-Only countries=['US', 'CA']")
    assert listed[1].startswith("#20 fallback [inactive]")
    explained = leads("rules", "test", str(make.lead(country="US"))).output
    assert "#10 US gold -> group 1 (round_robin): FIRES" in explained
    assert "out: Silver One: tier Silver is not one of Gold" in explained
    assert explained.rstrip().endswith("=> US gold")
    assert leads("rules", "test", str(make.lead(country="FR"))).output.rstrip().endswith(
        "=> no rule fires: the fallback applies")
    assert "InvalidRule: target 'group:Nope': no such group" in leads(
        "rules", "add", "--name", "bad", "--target", "group:Nope", ok=False).output


def test_distribute_claim_and_show(leads, make: Make) -> None:  # type: ignore[no-untyped-def]
    make.group("Tank", [make.partner("Alpha"), make.partner("Beta")], model="shark_tank")
    leads("rules", "add", "--name", "tank", "--target", "group:Tank")
    lead = str(make.lead())
    assert "pool (Open)" in leads("distribute", lead).output
    assert "accepted (Accepted) holder account 2" in leads("claim", lead, "--user", "rep0@beta.example").output
    refused = leads("claim", lead, "--user", "rep0@alpha.example", ok=False)
    assert refused.exit_code == 1 and "AlreadyClaimed: lead" in refused.output
    shown = leads("show", lead).output
    assert "state accepted, status Accepted, holder account 2" in shown
    assert "offered account 1 Read-Only" in shown and "claimed account 2 Read-Write" in shown
    assert "Open -> Accepted by rep0@beta.example" in shown
    assert "OUT Beta" not in shown and "IN  Alpha" in shown
    assert leads("list", "--user", "rep0@beta.example").output.startswith(f"{lead}\taccepted\tAccepted\t2")
    assert leads("list", "--user", "rep0@alpha.example").output == ""


def test_assign_accept_reject_pullback(leads, make: Make) -> None:  # type: ignore[no-untyped-def]
    make.partner("Alpha")
    make.partner("Beta")
    make.group("Ring", [1, 2])
    leads("rules", "add", "--name", "ring", "--target", "group:Ring")
    first, second = str(make.lead()), str(make.lead())
    leads("distribute", "--new")
    assert "assigned (Assigned) holder account 1 - CAM pick" in leads(
        "assign", first, "--to", "account:Alpha", "--reason", "CAM pick").output
    assert "accepted" in leads("accept", first, "--user", "rep0@alpha.example").output
    assert "assigned (Assigned) holder account 1" in leads(
        "reject", second, "--user", "rep0@beta.example", "--reason", "not our market").output
    assert "assigned (Assigned) holder account 2" in leads("pullback", first, "--reason", "no activity").output
    assert "manual_review (Manual Review)" in leads("pullback", first, "--reason", "no activity").output
    assert leads("list", "--state", "manual_review").output.startswith(f"{first}\tmanual_review")
    (listed,) = json.loads(leads("list", "--state", "manual_review", "--json").output)
    assert (listed["id"], listed["distribution_state"], listed["status"]) == (int(first), "manual_review", "Manual Review")
    assert listed["created_at"] and listed["partner_account_id"] is None
    assert "NotAllowed" in leads("accept", second, "--user", "rep0@beta.example", ok=False).output
    assert "name lead ids or use --new" in leads("distribute", ok=False).output
    assert leads("expire").output == ""
