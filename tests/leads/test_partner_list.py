"""The partner list ("Generate Partner List"): every partner, ranked, with why it is in or out."""

from __future__ import annotations

from connector.leads.service import LeadService
from connector.store.partners import PartnerUser
from leads.conftest import Make


def test_each_partner_is_in_or_out_with_its_reason(service: LeadService, make: Make) -> None:
    make.partner("Fits Silver", tier="Silver", countries=["US"], states=["TX"], certifications=["Firewall"])
    make.partner("Fits Gold", tier="Gold", countries=["US"], certifications=["Firewall", "Switches"])
    make.partner("Wrong Country", tier="Platinum", countries=["CA"], certifications=["Firewall"])
    make.partner("Wrong State", countries=["US"], states=["CA"], certifications=["Firewall"])
    make.partner("Uncertified", countries=["US"], certifications=["Switches"])
    make.partner("Nobody Approved", countries=["US"], certifications=["Firewall"], users=0)
    dormant = make.partner("Dormant", countries=["US"], certifications=["Firewall"], active=False)
    unapproved = make.partner("Unapproved", countries=["US"], certifications=["Firewall"], users=0)
    make.user(unapproved, "new@unapproved.example", approved=False)
    lead = make.lead(country="US", state="TX", product_interest="firewall")

    listed = service.partner_list(lead)

    assert [v.name for v in listed if v.eligible] == ["Fits Gold", "Fits Silver"], "eligible first, best tier first"
    out = {v.name: [c.detail for c in v.failed] for v in listed if not v.eligible}
    assert out == {
        "Wrong Country": ["does not cover US"],
        "Wrong State": ["covers US but not TX"],
        "Uncertified": ["not certified for firewall"],
        "Nobody Approved": ["no approved active user"],
        "Unapproved": ["no approved active user"],
        "Dormant": ["the partner account is inactive"],
    }
    gold = next(v for v in listed if v.name == "Fits Gold")
    assert {c.name: c.detail for c in gold.checks}["territory"] == "covers US"
    assert dormant in {v.account_id for v in listed}


def test_previous_holders_are_out_and_a_lead_without_country_or_product_fits_anywhere(
        service: LeadService, make: Make) -> None:
    first = make.partner("First", countries=["DE"])
    make.partner("Second", countries=[])
    lead = make.lead(country=None, product_interest=None)
    service.assign(lead, f"account:{first}", reason="CAM choice")
    service.pullback(lead, "no follow-up")

    listed = {v.name: v for v in service.partner_list(lead)}

    assert listed["Second"].eligible
    assert [c.detail for c in listed["First"].failed] == ["already held this lead (rejected or pulled back)"]
    assert {c.detail for c in listed["Second"].checks} >= {"the lead has no country: any territory",
                                                            "the lead names no product"}


def test_inactive_users_do_not_count(service: LeadService, make: Make) -> None:
    partner = make.partner("Partner", users=1)
    (user,) = make.users_of(partner)
    make.update(PartnerUser, user, active=False)
    (verdict,) = service.partner_list(make.lead())
    assert [c.detail for c in verdict.failed] == ["no approved active user"]
