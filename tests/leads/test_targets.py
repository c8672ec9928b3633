"""The one partner-target resolver (connector.leads.targets): every accepted form, the guessed kind
of a bare reference, the import's `usable` restrictions, and the errors a person reads."""

from __future__ import annotations

import pytest

from connector.leads import targets
from connector.leads.errors import InvalidRule
from connector.leads.service import LeadService
from connector.store.database import Database
from leads.conftest import Make


@pytest.fixture
def ids(make: Make) -> dict[str, int]:
    """Acme (one user) in group "EMEA Resellers"; an inactive account "Dormant"; two accounts named "Twin"."""
    acme = make.partner("Acme")
    found = {"acme": acme, "rep": make.users_of(acme)[0], "group": make.group("EMEA Resellers", [acme]),
             "dormant": make.partner("Dormant", active=False)}
    found["twin"] = make.partner("Twin")
    make.partner("twin", users=0)
    found["pending"] = make.user(acme, "new@acme.example", approved=False)
    return found


@pytest.mark.parametrize(("target", "kind", "key", "account"), [
    ("user:rep0@acme.example", "user", "rep", "acme"),
    ("USER: REP0@ACME.EXAMPLE ", "user", "rep", "acme"),
    ("account:Acme", "account", "acme", "acme"),
    ("account:acme", "account", "acme", "acme"),
    ("group:EMEA Resellers", "group", "group", None),
    ("group:emea resellers", "group", "group", None),
])
def test_each_named_form_resolves(db: Database, ids: dict[str, int], target: str, kind: str, key: str,
                                  account: str | None) -> None:
    with db.session() as s:
        found = targets.resolve(s, target)
    assert found == targets.Target(kind, ids[key], ids[account] if account else None)


def test_ids_resolve_in_every_kind(db: Database, ids: dict[str, int]) -> None:
    with db.session() as s:
        assert targets.resolve(s, f"user:{ids['rep']}") == targets.Target("user", ids["rep"], ids["acme"])
        assert targets.resolve(s, f"account:{ids['acme']}") == targets.Target("account", ids["acme"], ids["acme"])
        assert targets.resolve(s, f"group:{ids['group']}") == targets.Target("group", ids["group"], None)


@pytest.mark.parametrize(("target", "message"), [
    ("account:Nope", "target 'account:Nope': no such account 'Nope'"),
    ("group:Nope", "target 'group:Nope': no such group 'Nope'"),
    ("user:nobody@x.example", "target 'user:nobody@x.example': no such user 'nobody@x.example'"),
    ("user:999999", "target 'user:999999': no such user '999999'"),
    ("team:Acme", "target 'team:Acme': expected user:EMAIL, account:NAME or group:NAME (or :ID)"),
    ("account:", "target 'account:': expected user:EMAIL, account:NAME or group:NAME (or :ID)"),
    ("Acme", "target 'Acme': expected user:EMAIL, account:NAME or group:NAME (or :ID)"),
])
def test_a_bad_target_says_what_is_wrong(db: Database, ids: dict[str, int], target: str, message: str) -> None:
    with db.session() as s, pytest.raises(InvalidRule) as caught:
        targets.resolve(s, target)
    assert str(caught.value) == message


def test_a_bare_reference_is_a_user_then_a_group_then_an_account(db: Database, ids: dict[str, int]) -> None:
    with db.session() as s:
        assert targets.find(s, None, "rep0@acme.example").kind == "user"
        assert targets.find(s, None, "EMEA Resellers") == targets.Target("group", ids["group"], None)
        assert targets.find(s, None, "acme") == targets.Target("account", ids["acme"], ids["acme"])
        with pytest.raises(InvalidRule, match="^no partner group, user or account 'Nobody'$"):
            targets.find(s, None, "Nobody")
        with pytest.raises(InvalidRule, match="^unknown target kind 'team': expected user, account, group$"):
            targets.find(s, "team", "Acme")


def test_usable_refuses_inactive_unapproved_and_ambiguous_partners(db: Database, ids: dict[str, int]) -> None:
    with db.session() as s:
        assert targets.find(s, "account", "Dormant").id == ids["dormant"], "rules may name any account"
        assert targets.find(s, "account", "Twin").id == ids["twin"], "the oldest of a shared name"
        with pytest.raises(InvalidRule, match="^no such active account 'Dormant'$"):
            targets.find(s, "account", "Dormant", usable=True)
        with pytest.raises(InvalidRule, match="^no such approved active user 'new@acme.example'$"):
            targets.find(s, "user", "new@acme.example", usable=True)
        with pytest.raises(InvalidRule, match="^'Twin' names 2 partner accounts; assign to a user or a group instead$"):
            targets.find(s, "account", "Twin", usable=True)
        with pytest.raises(InvalidRule, match="^no such group '1'$"):
            targets.find(s, "group", "1", ids=False)


def test_rules_and_direct_assignment_use_the_resolver(service: LeadService, make: Make, ids: dict[str, int]) -> None:
    with pytest.raises(InvalidRule, match="^target 'account:Acme Corp': no such account 'Acme Corp'$"):
        service.save_rules([{"name": "r", "target": "account:Acme Corp"}])
    lead = make.lead(country="US")
    with pytest.raises(InvalidRule, match="^target 'group:Nope': no such group 'Nope'$"):
        service.assign(lead, "group:Nope", reason="named partner")
    service.assign(lead, "user:REP0@acme.example", reason="named partner")
    assert (make.prospect(lead).partner_account_id, make.prospect(lead).assigned_user_id) == (ids["acme"], ids["rep"])
