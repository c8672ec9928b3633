"""Account protection: named accounts' leads go to their owner whatever the rules say; open accounts'
leads follow the rules (here, the shark tank)."""

from __future__ import annotations

from connector.leads import lifecycle
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.partners import PartnerUser
from connector.store.records import Account
from leads.conftest import CAM, Make


def _setup(make: Make, service: LeadService) -> tuple[int, int, int]:
    owner, rival = make.partner("Owner"), make.partner("Rival")
    rep = make.user(owner, "named.rep@owner.example")
    make.named_account("Acme Corp", owner, rep)
    make.group("Tank", [owner, rival], model="shark_tank")
    service.save_rules([{"name": "everything to the rival", "priority": 1, "target": f"account:{rival}"},
                        {"name": "tank", "priority": 2, "target": "group:Tank"}])
    return owner, rival, rep


def test_a_named_accounts_lead_goes_to_its_owner_and_rep_whatever_the_rules(service: LeadService, make: Make) -> None:
    owner, rival, rep = _setup(make, service)
    lead = make.lead(company_name="  ACME corp ")
    outcome = service.distribute(lead)
    assert (outcome.account_id, outcome.user_id, outcome.rule) == (owner, rep, None)
    assert outcome.reason == "named account Acme Corp"
    assert make.grants(lead) == {("account", owner, "Read-Write"), ("user", rep, "Read-Write")}
    assert ("assignment", "named.rep@owner.example") in make.emails()


def test_an_open_accounts_lead_follows_the_rules(service: LeadService, make: Make) -> None:
    owner, rival, _ = _setup(make, service)
    service.save_rules([{"name": "everything to the rival", "active": False}])
    outcome = service.distribute(make.lead(company_name="Someone Else Ltd"))
    assert (outcome.state, outcome.rule) == (lifecycle.POOL, "tank")


def test_an_inactive_named_rep_is_passed_over_and_a_returned_lead_goes_to_review(service: LeadService,
                                                                                make: Make) -> None:
    owner, _, rep = _setup(make, service)
    make.update(PartnerUser, rep, active=False)
    lead = make.lead(company_name="Acme Corp")
    assert (service.distribute(lead).account_id, make.prospect(lead).assigned_user_id) == (owner, None)
    outcome = service.pullback(lead, "no activity")
    assert (outcome.state, outcome.reason) == (lifecycle.MANUAL_REVIEW,
                                               "named account Acme Corp: its owner Owner cannot take it")
    assert ("manual_review", CAM) in make.emails()


def test_new_vendor_leads_are_distributed_once_and_partners_own_leads_left_alone(service: LeadService, make: Make,
                                                                                  db: Database) -> None:
    owner, _, rep = _setup(make, service)
    lead = make.lead(email="buyer@acme.example", company_name="Acme Corp", country="US")
    partner_own = make.lead(partner_account_id=owner, status="New")
    outcomes = service.distribute_new()
    assert [(o.prospect_id, o.state, o.account_id) for o in outcomes] == [(lead, lifecycle.ASSIGNED, owner)]
    assert make.grants(lead) == {("account", owner, "Read-Write"), ("user", rep, "Read-Write")}
    assert make.prospect(partner_own).distribution_state == lifecycle.NEW, "a partner's own lead is not distributed"
    assert service.distribute_new() == []


def test_a_lead_a_partner_holds_undistributed_is_taken_back_first(service: LeadService, make: Make,
                                                                  db: Database) -> None:
    owner, rival, _ = _setup(make, service)
    lead = make.lead(email="buyer@acme.example", company_name="Acme Corp", country="US", partner_account_id=owner)
    with db.session() as s:
        s.execute(Account.__table__.update().values(named=False))
    outcome = service.distribute(lead)
    assert (outcome.account_id, outcome.rule) == (rival, "everything to the rival")
    assert make.grants(lead) == {("account", rival, "Read-Write")}
    assert make.prospect(lead).previous_holder_ids == [], "the owner did not give it back: not a previous holder"
