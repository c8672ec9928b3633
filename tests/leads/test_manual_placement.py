"""A person's placements from the Assign to Partner page: round robin in a group picks one member
per lead in rotation (not the whole group), skipping members the lead's partner list rules out;
the shark tank offers it to the group's eligible members; `notify` off sends no email."""

from __future__ import annotations

import pytest

from connector.leads import lifecycle
from connector.leads.errors import NotAllowed
from connector.leads.service import LeadService
from leads.conftest import Make


def test_round_robin_gives_each_lead_to_one_member_in_turn(service: LeadService, make: Make) -> None:
    a, b, c = make.partner("A"), make.partner("B"), make.partner("C", countries=["JP"])
    make.group("Resellers", [a, b, c])
    holders = []
    for n in range(4):
        lead = make.lead(email=f"l{n}@x.example")
        outcome = service.assign_round_robin(lead, "Resellers", reason="CAM's call")
        assert outcome.state == lifecycle.ASSIGNED and "round robin in Resellers" in outcome.reason
        holders.append(outcome.account_id)
        assert make.grants(lead) == {("account", outcome.account_id, "Read-Write")}, "one member, not the group"
    assert holders == [a, b, a, b], "C covers no US lead: passed by"
    assert make.emails("assignment") == [("assignment", "rep0@a.example"), ("assignment", "rep0@b.example")] * 2


def test_round_robin_with_nobody_eligible_is_refused_and_changes_nothing(service: LeadService, make: Make) -> None:
    make.group("Japan", [make.partner("C", countries=["JP"])])
    lead = make.lead()
    with pytest.raises(NotAllowed, match="no member of the group Japan"):
        service.assign_round_robin(lead, "group:Japan", reason="try")
    assert make.prospect(lead).distribution_state == lifecycle.NEW and make.grants(lead) == set()


def test_shark_tank_offers_to_the_eligible_members_and_quiet_assignments(service: LeadService, make: Make) -> None:
    a, b, c = make.partner("A"), make.partner("B"), make.partner("C", countries=["JP"])
    make.group("Tank", [a, b, c], model="shark_tank")
    lead = make.lead()
    outcome = service.send_to_shark_tank(lead, "Tank", reason="first come")
    assert outcome.state == lifecycle.POOL
    assert {g[:2] for g in make.grants(lead)} == {("account", a), ("account", b)}
    won = service.claim(lead, make.users_of(b)[0])
    assert (won.state, won.account_id) == (lifecycle.ACCEPTED, b)

    quiet = make.lead(email="quiet@x.example")
    before = len(make.emails())
    service.assign(quiet, "account:A", reason="no email please", notify=False)
    assert make.prospect(quiet).partner_account_id == a and len(make.emails()) == before
    service.assign(quiet, "account:B", reason="now tell them")
    assert make.emails()[-1] == ("assignment", "rep0@b.example")
