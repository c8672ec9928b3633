"""Round robin: fair rotation that skips ineligible partners and survives a restart."""

from __future__ import annotations

from collections import Counter

from connector.clock import ManualClock
from connector.config.settings import LeadSettings
from connector.leads import lifecycle
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.partners import PartnerAccount, PartnerUser
from leads.conftest import CAM, Make


def _rotation(make: Make, service: LeadService, count: int, **lead: object) -> list[int | None]:
    return [service.distribute(make.lead(**lead)).account_id for _ in range(count)]


def test_rotation_is_in_member_order_and_fair(service: LeadService, make: Make) -> None:
    partners = [make.partner(f"P{n}") for n in range(5)]
    make.group("Ring", partners)
    service.save_rules([{"name": "ring", "target": "group:Ring", "model": "round_robin"}])
    assigned = _rotation(make, service, 23)
    assert assigned[:10] == partners + partners
    counts = Counter(assigned)
    assert max(counts.values()) - min(counts.values()) <= 1 and set(counts) == set(partners)


def test_rotation_survives_a_restart(db: Database, make: Make, clock: ManualClock) -> None:
    a, b, c = make.partner("A"), make.partner("B"), make.partner("C")
    make.group("Ring", [a, b, c])
    first = LeadService(db, LeadSettings(), clock)
    first.save_rules([{"name": "ring", "target": "group:Ring"}])
    assert _rotation(make, first, 2) == [a, b]
    restarted = LeadService(Database(db.url), LeadSettings(), clock)
    assert _rotation(make, restarted, 2) == [c, a]


def test_inactive_and_ineligible_partners_are_skipped_without_losing_their_turn_order(
        service: LeadService, make: Make) -> None:
    a, b, c, d = make.partner("A"), make.partner("B"), make.partner("C", countries=["CA"]), make.partner("D")
    make.group("Ring", [a, b, c, d])
    service.save_rules([{"name": "ring", "target": "group:Ring", "partner_territory": True}])
    assert _rotation(make, service, 3, country="US") == [a, b, d], "C does not cover the US"
    make.update(PartnerAccount, b, active=False)
    assert _rotation(make, service, 3, country="US") == [a, d, a]
    make.update(PartnerAccount, b, active=True)
    (user,) = make.users_of(d)
    make.update(PartnerUser, user, approved=False)
    assert _rotation(make, service, 3, country="US") == [b, a, b], "D has no approved user any more"
    assert _rotation(make, service, 1, country="CA") == [c]


def test_a_members_named_rep_gets_the_lead_too(service: LeadService, make: Make) -> None:
    a = make.partner("A")
    rep = make.user(a, "star@a.example")
    make.group("Solo", [a], reps={a: rep})
    service.save_rules([{"name": "solo", "target": "group:Solo"}])
    lead = make.lead()
    outcome = service.distribute(lead)
    assert (outcome.account_id, outcome.user_id, outcome.rule, outcome.state) == (a, rep, "solo", lifecycle.ASSIGNED)
    assert make.grants(lead) == {("account", a, "Read-Write"), ("user", rep, "Read-Write")}
    assert set(make.emails("assignment")) == {("assignment", "star@a.example")}


def test_redistribution_passes_previous_holders_then_goes_to_manual_review(service: LeadService, make: Make) -> None:
    a, b, c = make.partner("A"), make.partner("B"), make.partner("C")
    make.group("Ring", [a, b, c])
    service.save_rules([{"name": "ring", "target": "group:Ring"}])
    lead = make.lead()
    holders = [service.distribute(lead).account_id]
    for _ in range(2):
        holders.append(service.pullback(lead, "no activity for 2 days").account_id)
    assert holders == [a, b, c]
    final = service.pullback(lead, "no activity for 2 days")
    assert (final.state, final.account_id) == (lifecycle.MANUAL_REVIEW, None)
    assert final.reason == "every partner eligible for it has already had it"
    assert make.prospect(lead).previous_holder_ids == [a, b, c]
    assert ("manual_review", CAM) in make.emails()
    assert make.grants(lead) == set()
