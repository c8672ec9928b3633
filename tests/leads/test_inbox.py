"""The partner's inbox: accept, reject, auto-accept, activity, status, pullback and conversion, each
recorded in the lead's history."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connector.clock import ManualClock
from connector.leads import lifecycle
from connector.leads.errors import InvalidTransition, NotAllowed
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.distribution import LeadActivity
from connector.store.records import Account, Contact
from leads.conftest import CAM, Make


def _assigned(make: Make, service: LeadService, **partner: object) -> tuple[int, int, int]:
    """A lead assigned to partner A by the rules (B is the next in the ring); returns lead, A, A's user."""
    a = make.partner("A", notification_recipients=["leads@a.example"], **partner)
    b = make.partner("B")
    make.group("Ring", [a, b])
    service.save_rules([{"name": "ring", "target": "group:Ring"}])
    lead = make.lead()
    service.distribute(lead)
    return lead, a, make.users_of(a)[0]


def test_accept_records_the_status_and_the_time(service: LeadService, make: Make, clock: ManualClock) -> None:
    lead, a, user = _assigned(make, service)
    assert make.emails() == [("assignment", "leads@a.example")], "the partner's default recipients are told"
    clock.advance(hours=3)
    outcome = service.accept(lead, user)
    assert (outcome.state, outcome.status) == (lifecycle.ACCEPTED, "Accepted")
    assert make.prospect(lead).accepted_at == clock.now()
    assert make.statuses(lead) == ["Assigned", "Accepted"]
    with pytest.raises(InvalidTransition):
        service.accept(lead, user)


def test_only_the_holder_may_accept_or_reject(service: LeadService, make: Make) -> None:
    lead, a, user = _assigned(make, service)
    outsider = make.users_of(make.partner("Outsider"))[0]
    with pytest.raises(NotAllowed):
        service.accept(lead, outsider)
    with pytest.raises(NotAllowed):
        service.reject(lead, outsider, "not mine")
    with pytest.raises(NotAllowed, match="needs a reason"):
        service.reject(lead, user, "  ")


def test_auto_accept_partners_take_the_lead_at_once(service: LeadService, make: Make) -> None:
    lead, a, _ = _assigned(make, service, auto_accept=True)
    prospect = make.prospect(lead)
    assert (prospect.distribution_state, prospect.status) == (lifecycle.ACCEPTED, "Accepted")
    assert make.statuses(lead) == ["Accepted"]
    assert make.emails() == [("assignment", "leads@a.example")], "auto-accepted leads are still announced"


def test_reject_returns_the_lead_for_redistribution_without_that_partner(service: LeadService, make: Make) -> None:
    lead, a, user = _assigned(make, service)
    (b,) = [p for p in make.partner_ids() if p != a]
    outcome = service.reject(lead, user, "outside our region")
    assert (outcome.state, outcome.account_id) == (lifecycle.ASSIGNED, b)
    assert make.statuses(lead) == ["Assigned", "Rejected", "Assigned"]
    assert make.grants(lead) == {("account", b, "Read-Write")}
    assert ("rejected", "account", a) in make.assignment_actions(lead)
    assert ("rejection", CAM) in make.emails()
    (b_user,) = make.users_of(b)
    final = service.reject(lead, b_user, "no capacity")
    assert final.state == lifecycle.MANUAL_REVIEW, "every partner has had it"


def test_activity_moves_last_activity_and_needs_read_write(service: LeadService, make: Make,
                                                           clock: ManualClock, db: Database) -> None:
    lead, a, user = _assigned(make, service)
    clock.advance(hours=5)
    service.log_activity(lead, user, "call", "Intro call", "Left a voicemail")
    assert make.prospect(lead).last_activity_at == clock.now()
    with pytest.raises(NotAllowed, match="unknown activity"):
        service.log_activity(lead, user, "fax")
    service.assign(lead, f"account:{a}", reason="read only from now", access_type="Read-Only")
    with pytest.raises(NotAllowed, match="read-only"):
        service.log_activity(lead, user, "note", "Should not be written")
    with db.session() as s:
        assert [(x.kind, x.subject, x.actor) for x in s.scalars(select(LeadActivity))] == [
            ("call", "Intro call", "rep0@a.example")]


def test_working_statuses_after_acceptance(service: LeadService, make: Make) -> None:
    lead, a, user = _assigned(make, service)
    with pytest.raises(InvalidTransition, match="accept it first"):
        service.change_status(lead, user, "Interested")
    service.accept(lead, user)
    with pytest.raises(NotAllowed, match="not a working status"):
        service.change_status(lead, user, "Converted")
    service.change_status(lead, user, "Interested", "asked for a quote")
    assert make.statuses(lead) == ["Assigned", "Accepted", "Interested"]
    assert ("status_change", CAM) in make.emails()


def test_pullback_tells_the_holder_and_redistributes(service: LeadService, make: Make) -> None:
    lead, a, user = _assigned(make, service)
    (b,) = [p for p in make.partner_ids() if p != a]
    outcome = service.pullback(lead, "no activity for more than 2 days")
    assert (outcome.state, outcome.account_id) == (lifecycle.ASSIGNED, b)
    assert ("pullback", "leads@a.example") in make.emails()
    assert ("pulled_back", "account", a) in make.assignment_actions(lead)
    assert make.statuses(lead) == ["Assigned", "Open", "Assigned"]
    with pytest.raises(InvalidTransition):
        service.pullback(make.lead(), "nobody holds it")


def test_convert_to_a_new_account_carries_the_history(service: LeadService, make: Make, db: Database,
                                                      clock: ManualClock) -> None:
    lead, a, user = _assigned(make, service)
    with pytest.raises(InvalidTransition):
        service.convert(lead, user, new_account=True)
    service.accept(lead, user)
    contact_id = service.convert(lead, user, new_account=True)
    with db.session() as s:
        contact = s.get(Contact, contact_id)
        assert contact is not None and contact.prospect_id == lead and contact.partner_account_id == a
        account = s.get(Account, contact.account_id)
        assert account is not None and (account.name, account.partner_account_id) == ("Customer Inc", a)
    prospect = make.prospect(lead)
    assert (prospect.converted_contact_id, prospect.converted_at) == (contact_id, clock.now())
    assert (prospect.distribution_state, prospect.status) == (lifecycle.CONVERTED, "Converted")
    assert make.statuses(lead)[-1] == "Converted"
    assert make.grants(contact_id, module="contact") == make.grants(lead)


def test_convert_to_an_existing_account(service: LeadService, make: Make, db: Database) -> None:
    lead, a, user = _assigned(make, service)
    service.accept(lead, user)
    with db.session() as s:
        existing = Account(name="Already There")
        s.add(existing)
        s.flush()
        existing_id = existing.id
    with pytest.raises(NotAllowed, match="either"):
        service.convert(lead, user, account_id=existing_id, new_account=True)
    contact_id = service.convert(lead, user, account_id=existing_id)
    with db.session() as s:
        contact = s.get(Contact, contact_id)
        assert contact is not None and contact.account_id == existing_id
        assert s.scalar(select(Account.id).where(Account.name == "Customer Inc")) is None


def test_a_group_assigned_lead_belongs_to_the_first_member_that_accepts(service: LeadService, make: Make) -> None:
    a, b = make.partner("A"), make.partner("B")
    group = make.group("Pair", [a, b])
    lead = make.lead()
    service.assign(lead, "group:Pair", reason="CAM: let them choose")
    (b_user,) = make.users_of(b)
    outcome = service.accept(lead, b_user)
    assert (outcome.account_id, outcome.user_id) == (b, b_user)
    assert make.grants(lead) == {("account", b, "Read-Write"), ("user", b_user, "Read-Write")}
    assert ("revoked", "group", group) in make.assignment_actions(lead)


def test_reassigning_to_the_same_partner_does_not_make_it_a_previous_holder(service: LeadService,
                                                                            make: Make) -> None:
    lead, a, _ = _assigned(make, service)
    service.assign(lead, f"account:{a}", reason="now read-only", access_type="Read-Only")
    assert make.prospect(lead).previous_holder_ids == []
    (b,) = [p for p in make.partner_ids() if p != a]
    service.assign(lead, f"account:{b}", reason="CAM moved it")
    assert make.prospect(lead).previous_holder_ids == [a]
    assert make.grants(lead) == {("account", b, "Read-Write")}
