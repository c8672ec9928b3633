"""Visibility: a partner user sees what is assigned to them, their group or their account, and a
parent account's users see their children's leads - nobody else's."""

from __future__ import annotations

from datetime import datetime, timezone

from connector.leads.service import LeadService
from connector.leads.visibility import access_of
from connector.store import Database
from connector.store.partners import PartnerAccount, PartnerUser
from connector.store.records import Prospect
from leads.conftest import Make


def _seen(service: LeadService, user: int) -> set[int]:
    return {p.id for p in service.visible_prospects(user)}


def test_each_user_sees_their_own_their_groups_and_their_accounts_leads(service: LeadService, make: Make) -> None:
    a, b = make.partner("A", users=2), make.partner("B")
    a1, a2 = make.users_of(a)
    (b1,) = make.users_of(b)
    make.group("Both", [a, b])
    to_account, to_user, to_group, to_b = make.lead(), make.lead(), make.lead(), make.lead()
    service.assign(to_account, "account:A", reason="r")
    service.assign(to_user, f"user:{a2}", reason="r")
    service.assign(to_group, "group:Both", reason="r")
    service.assign(to_b, "account:B", reason="r")
    make.lead()  # nobody's

    assert _seen(service, a1) == {to_account, to_user, to_group}
    assert _seen(service, a2) == {to_account, to_user, to_group}
    assert _seen(service, b1) == {to_group, to_b}


def test_a_parent_sees_its_childrens_leads_but_not_the_reverse(service: LeadService, make: Make) -> None:
    parent = make.partner("Parent")
    child = make.partner("Child", parent_id=parent)
    grandchild = make.partner("Grandchild", parent_id=child)
    sibling = make.partner("Sibling", parent_id=parent)
    (grandchild_rep,) = make.users_of(grandchild)
    leads = {name: make.lead() for name in ("parent", "child", "grandchild_rep", "sibling")}
    service.assign(leads["parent"], f"account:{parent}", reason="r")
    service.assign(leads["child"], f"account:{child}", reason="r")
    service.assign(leads["grandchild_rep"], f"user:{grandchild_rep}", reason="r")
    service.assign(leads["sibling"], f"account:{sibling}", reason="r")

    assert _seen(service, make.users_of(parent)[0]) == set(leads.values())
    assert _seen(service, make.users_of(child)[0]) == {leads["child"], leads["grandchild_rep"]}
    assert _seen(service, grandchild_rep) == {leads["grandchild_rep"]}
    assert _seen(service, make.users_of(sibling)[0]) == {leads["sibling"]}


def test_revoked_archived_and_inactive_see_nothing(service: LeadService, make: Make, db: Database) -> None:
    a, b = make.partner("A", users=2), make.partner("B")
    user, other = make.users_of(a)
    moved, archived, kept = make.lead(), make.lead(), make.lead()
    for lead in (moved, archived, kept):
        service.assign(lead, "account:A", reason="r")
    service.assign(moved, f"account:{b}", reason="moved to B")
    make.update(Prospect, archived, archived_at=datetime(2026, 3, 3, tzinfo=timezone.utc))
    assert _seen(service, user) == {kept}
    make.update(PartnerUser, other, approved=False)
    assert _seen(service, other) == set()
    make.update(PartnerAccount, a, active=False)
    assert _seen(service, user) == set()


def test_access_is_read_write_when_any_grant_gives_it(service: LeadService, make: Make, db: Database) -> None:
    a = make.partner("A")
    (user,) = make.users_of(a)
    make.group("Solo", [a])
    lead = make.lead()
    service.assign(lead, "account:A", reason="r", access_type="Read-Only")
    with db.session() as s:
        assert access_of(s, user, lead) == "Read-Only"
    service.assign(lead, "group:Solo", reason="r", access_type="Read-Write")
    with db.session() as s:
        assert access_of(s, user, lead) == "Read-Write"
        assert access_of(s, user, make.lead()) is None
