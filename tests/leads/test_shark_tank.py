"""The shark tank: publish to the eligible pool, the first claim wins, the window closes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.clock import ManualClock
from connector.config.settings import LeadSettings
from connector.leads import lifecycle
from connector.leads.errors import AlreadyClaimed, InvalidTransition, NotAllowed, WindowClosed
from connector.leads.service import LeadService
from connector.store import Database
from leads.conftest import CAM, Make


def _tank(make: Make, service: LeadService, *, fallback: str | None = None) -> tuple[list[int], int]:
    partners = [make.partner("Alpha"), make.partner("Beta"), make.partner("Gamma"), make.partner("Far", countries=["JP"])]
    make.group("Tank", partners, model="shark_tank")
    rule = {"name": "tank", "target": "group:Tank", "partner_territory": True, "access_type": "Read-Write"}
    service.save_rules([rule if fallback is None else {**rule, "fallback": fallback}])
    return partners, make.lead(country="US")


def test_publish_offers_the_lead_read_only_to_the_eligible_pool(service: LeadService, make: Make,
                                                                clock: ManualClock) -> None:
    (alpha, beta, gamma, far), lead = _tank(make, service)
    outcome = service.distribute(lead)
    assert (outcome.state, outcome.status, outcome.account_id) == (lifecycle.POOL, "Open", None)
    assert make.grants(lead) == {("account", p, "Read-Only") for p in (alpha, beta, gamma)}
    assert make.prospect(lead).pool_until == clock.now() + timedelta(hours=48)
    assert {r for k, r in make.emails()} == {"rep0@alpha.example", "rep0@beta.example", "rep0@gamma.example"}
    assert [p.id for p in service.visible_prospects(make.users_of(alpha)[0])] == [lead], "the pool sees it to claim it"
    assert service.visible_prospects(make.users_of(far)[0]) == []


def test_first_claim_wins_and_later_claims_are_refused(service: LeadService, make: Make) -> None:
    (alpha, beta, gamma, far), lead = _tank(make, service)
    service.distribute(lead)
    (beta_user,) = make.users_of(beta)
    won = service.claim(lead, beta_user)
    assert (won.state, won.status, won.account_id, won.user_id) == (lifecycle.ACCEPTED, "Accepted", beta, beta_user)
    assert make.grants(lead) == {("account", beta, "Read-Write"), ("user", beta_user, "Read-Write")}
    assert ("claim_won", "rep0@beta.example") in make.emails()
    (alpha_user,) = make.users_of(alpha)
    with pytest.raises(AlreadyClaimed):
        service.claim(lead, alpha_user)
    with pytest.raises(AlreadyClaimed):
        service.claim(lead, beta_user)
    assert make.prospect(lead).partner_account_id == beta
    actions = make.assignment_actions(lead)
    assert ("revoked", "account", alpha) in actions and ("claimed", "account", beta) in actions


def test_only_the_pool_may_claim_and_only_pooled_leads(service: LeadService, make: Make) -> None:
    (alpha, beta, gamma, far), lead = _tank(make, service)
    (far_user,) = make.users_of(far)
    with pytest.raises(InvalidTransition):
        service.claim(lead, far_user)
    service.distribute(lead)
    with pytest.raises(NotAllowed, match="not offered"):
        service.claim(lead, far_user)


def test_a_closed_window_refuses_claims_and_falls_back_to_the_configured_fallback(
        db: Database, make: Make, clock: ManualClock) -> None:
    service = LeadService(db, LeadSettings(fallback="manual_review", shark_tank_window=3600), clock,
                          review_recipients=[CAM])
    (alpha, *_), lead = _tank(make, service)
    service.distribute(lead)
    clock.advance(minutes=59)
    assert service.expire_pools() == []
    clock.advance(minutes=1)
    (alpha_user,) = make.users_of(alpha)
    with pytest.raises(WindowClosed):
        service.claim(lead, alpha_user)
    (expired,) = service.expire_pools()
    assert (expired.state, expired.account_id) == (lifecycle.MANUAL_REVIEW, None)
    assert make.grants(lead) == set()
    assert ("manual_review", CAM) in make.emails()
    assert service.expire_pools() == []


def test_the_rules_fallback_round_robin_picks_from_the_pool(service: LeadService, make: Make,
                                                            clock: ManualClock) -> None:
    (alpha, beta, gamma, far), lead = _tank(make, service, fallback="round_robin")
    other = make.lead(country="US")
    service.distribute(lead)
    service.distribute(other)
    clock.advance(hours=49)
    outcomes = service.expire_pools()
    assert [(o.state, o.account_id) for o in outcomes] == [(lifecycle.ASSIGNED, alpha), (lifecycle.ASSIGNED, beta)]
    assert make.grants(lead) == {("account", alpha, "Read-Write")}


def test_the_open_pool_fallback_leaves_the_lead_unheld(db: Database, make: Make, clock: ManualClock) -> None:
    service = LeadService(db, LeadSettings(), clock)
    _, lead = _tank(make, service, fallback="open_pool")
    service.distribute(lead)
    clock.advance(hours=48)
    (expired,) = service.expire_pools()
    assert (expired.state, expired.status) == (lifecycle.OPEN, "Open")
    assert [a for a, _, _ in make.assignment_actions(lead)] == ["offered"] * 3 + ["expired"] * 3


def test_a_partner_sees_what_it_holds_and_what_it_is_offered_and_not_an_offer_another_won(
        service: LeadService, make: Make) -> None:
    """Held leads are found through the assignee index, offers through the pooled leads: one list."""
    (alpha, beta, gamma, far), offered = _tank(make, service)
    held = make.lead(country="US")
    service.assign(held, "account:Alpha", reason="their customer")
    service.distribute(offered)
    (alpha_user,), (beta_user,) = make.users_of(alpha), make.users_of(beta)
    assert [p.id for p in service.visible_prospects(alpha_user)] == [held, offered]
    assert [p.id for p in service.visible_prospects(beta_user)] == [offered]
    service.claim(offered, beta_user)
    assert [p.id for p in service.visible_prospects(alpha_user)] == [held]
    assert [p.id for p in service.visible_prospects(beta_user)] == [offered], "the winner holds it now"


def test_leads_in_a_shark_tank_when_the_datastore_is_upgraded_stay_offered_and_claimable(
        database_url: str, clock: ManualClock) -> None:
    """Revision 0022 marks the active offers of the leads pooled at the time (before it, an offer
    was any active account grant of a pooled lead)."""
    from alembic import command

    from connector.store.migrate import alembic_config, upgrade

    db = Database(database_url)
    try:
        upgrade(db)
        make = Make(db)
        service = LeadService(db, LeadSettings(), clock, review_recipients=[CAM])
        (alpha, beta, gamma, far), lead = _tank(make, service)
        service.distribute(lead)
        with db.engine.connect() as connection:
            command.downgrade(alembic_config(db, connection), "0021")
            connection.commit()
        upgrade(db)
        (alpha_user,), (beta_user,) = make.users_of(alpha), make.users_of(beta)
        assert [p.id for p in service.visible_prospects(alpha_user)] == [lead]
        won = service.claim(lead, beta_user)
        assert (won.state, won.account_id) == (lifecycle.ACCEPTED, beta)
        assert service.visible_prospects(alpha_user) == []
        assert make.grants(lead) == {("account", beta, "Read-Write"), ("user", beta_user, "Read-Write")}
    finally:
        db.dispose()
