"""The partner's inbox: accept or reject an assigned lead, log activity, move its status, convert it
to a contact. Each action is checked against the acting user (holder, or Read-Write access through
`visibility`) and recorded in the lead's history, in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.leads import assign, lifecycle
from connector.leads.errors import InvalidTransition, NotAllowed, NotFound
from connector.leads.visibility import access_of
from connector.store.assignments import LeadStatusHistory, RecordAssignment
from connector.store.distribution import LeadActivity
from connector.store.partners import PartnerGroupMember, PartnerUser
from connector.store.records import Account, Contact, Prospect

ACTIVITY_KINDS = ("call", "email", "meeting", "note")


def acting_user(session: Session, user_id: int) -> PartnerUser:
    """The partner user doing something; only approved active users act."""
    user = session.get(PartnerUser, user_id)
    if user is None:
        raise NotFound(f"partner user {user_id} does not exist")
    if not (user.active and user.approved):
        raise NotAllowed(f"{user.email} is not an approved active user")
    return user


def user_by_email(session: Session, email: str) -> PartnerUser:
    """The partner user with this email (case-insensitive); NotFound when there is none."""
    user = session.scalars(select(PartnerUser).where(func.lower(PartnerUser.email) == email.strip().lower())).first()
    if user is None:
        raise NotFound(f"no partner user {email}")
    return user


def holding_group(session: Session, prospect: Prospect, user: PartnerUser) -> RecordAssignment | None:
    """The active group grant through which the user's account may take a group-assigned lead."""
    return session.scalars(
        select(RecordAssignment).join(PartnerGroupMember, PartnerGroupMember.group_id == RecordAssignment.assignee_id)
        .where(RecordAssignment.record_module == assign.MODULE, RecordAssignment.record_id == prospect.id,
               RecordAssignment.assignee_type == "group", RecordAssignment.revoked_at.is_(None),
               PartnerGroupMember.account_id == user.account_id)).first()


def require_holder(session: Session, prospect: Prospect, user: PartnerUser) -> None:
    """The user's account holds the lead (or, for a group assignment, is in the group)."""
    if prospect.partner_account_id is not None:
        holds = user.account_id == prospect.partner_account_id
    else:
        holds = user.account_id not in prospect.previous_holder_ids and holding_group(session, prospect, user) is not None
    if not holds:
        raise NotAllowed(f"{user.email} does not hold lead {prospect.id}")


def require_write(session: Session, prospect: Prospect, user: PartnerUser) -> None:
    access = access_of(session, user.id, prospect.id)
    if access is None:
        raise NotAllowed(f"{user.email} does not see lead {prospect.id}")
    if access != "Read-Write":
        raise NotAllowed(f"{user.email} has read-only access to lead {prospect.id}")


def accept(session: Session, prospect: Prospect, user: PartnerUser, now: datetime) -> None:
    """The holder takes the lead. A group-assigned lead becomes the accepting partner's alone."""
    if prospect.distribution_state != lifecycle.ASSIGNED:
        raise InvalidTransition(f"lead {prospect.id} is {prospect.distribution_state}, not waiting for acceptance")
    require_holder(session, prospect, user)
    actor = user.email
    if prospect.partner_account_id is None:
        via = holding_group(session, prospect, user)
        assert via is not None
        reason = f"accepted by {user.account.name} for the group"
        for grant in assign.active_grants(session, prospect.id):
            assign.revoke(session, grant, actor=actor, reason=reason, now=now)
        assign.grant(session, prospect.id, [("account", user.account_id), ("user", user.id)], via.access_type,
                     actor=actor, reason=reason, now=now)
        prospect.partner_account_id, prospect.assigned_user_id = user.account_id, user.id
    prospect.distribution_state = lifecycle.ACCEPTED
    prospect.accepted_at = now
    lifecycle.change_status(session, prospect, lifecycle.STATUS_ACCEPTED, actor=actor, reason="accepted", now=now)


def reject(session: Session, prospect: Prospect, user: PartnerUser, reason: str, now: datetime) -> LeadStatusHistory:
    """The holder gives the lead back with a reason; the caller redistributes it (without this
    partner). Returns the "Rejected" entry of the status history."""
    if not reason.strip():
        raise NotAllowed("a rejection needs a reason")
    if prospect.distribution_state not in lifecycle.HELD:
        raise InvalidTransition(f"lead {prospect.id} is {prospect.distribution_state}: nothing to reject")
    require_holder(session, prospect, user)
    entry = lifecycle.change_status(session, prospect, lifecycle.STATUS_REJECTED, actor=user.email, reason=reason,
                                    now=now)
    if user.account_id not in prospect.previous_holder_ids:
        prospect.previous_holder_ids = [*prospect.previous_holder_ids, user.account_id]
    assign.release(session, prospect, action="rejected", actor=user.email, reason=reason, now=now)
    return entry


def log_activity(session: Session, prospect: Prospect, user: PartnerUser, kind: str, subject: str | None,
                 body: str | None, now: datetime) -> LeadActivity:
    """A call, email, meeting or note on the lead; it moves `last_activity_at` (what aging watches)."""
    if kind not in ACTIVITY_KINDS:
        raise NotAllowed(f"unknown activity '{kind}' (known: {', '.join(ACTIVITY_KINDS)})")
    require_write(session, prospect, user)
    activity = LeadActivity(prospect_id=prospect.id, kind=kind, subject=subject, body=body, user_id=user.id,
                            actor=user.email, at=now)
    session.add(activity)
    prospect.last_activity_at = now
    return activity


def set_status(session: Session, prospect: Prospect, user: PartnerUser, status: str, reason: str | None,
               now: datetime) -> LeadStatusHistory:
    """The holder's working status (Contacted, Interested, ...) on an accepted lead; returns the entry."""
    if status not in lifecycle.WORK_STATUSES:
        raise NotAllowed(f"'{status}' is not a working status (known: {', '.join(lifecycle.WORK_STATUSES)})")
    if prospect.distribution_state != lifecycle.ACCEPTED:
        raise InvalidTransition(f"lead {prospect.id} is {prospect.distribution_state}: accept it first")
    require_write(session, prospect, user)
    return lifecycle.change_status(session, prospect, status, actor=user.email, reason=reason, now=now)


def convert(session: Session, prospect: Prospect, user: PartnerUser, *, account_id: int | None, new_account: bool,
            now: datetime) -> Contact:
    """Make the prospect a contact, at an existing account or a new one made from its company. The
    links both ways keep its history reachable; the prospect's grants carry over to the contact."""
    if prospect.distribution_state != lifecycle.ACCEPTED:
        raise InvalidTransition(f"lead {prospect.id} is {prospect.distribution_state}: only an accepted lead converts")
    if new_account == (account_id is not None):
        raise NotAllowed("convert to either a new account or an existing one")
    require_write(session, prospect, user)
    if new_account:
        account = Account(name=prospect.company_name or assign.lead_label(prospect), website=prospect.company_website,
                          phone=prospect.company_phone, employees=prospect.company_employees,
                          annual_revenue=prospect.company_annual_revenue, industry=prospect.industry,
                          billing_street=prospect.street, billing_city=prospect.city, billing_state=prospect.state,
                          billing_postal_code=prospect.postal_code, billing_country=prospect.country,
                          partner_account_id=prospect.partner_account_id, created_at=now, updated_at=now)
        session.add(account)
    else:
        found = session.get(Account, account_id)
        if found is None or found.archived_at is not None:
            raise NotFound(f"account {account_id} does not exist")
        account = found
    session.flush()
    contact = Contact(email=prospect.email, title=prospect.title, first_name=prospect.first_name,
                      last_name=prospect.last_name, phone=prospect.phone, mobile_phone=prospect.mobile_phone,
                      lead_source=prospect.lead_source, account_id=account.id, prospect_id=prospect.id,
                      partner_account_id=prospect.partner_account_id, created_at=now, updated_at=now)
    session.add(contact)
    session.flush()
    reason = f"converted from prospect {prospect.id}"
    for grant in assign.active_grants(session, prospect.id):
        assign.grant(session, contact.id, [(grant.assignee_type, grant.assignee_id)], grant.access_type,
                     actor=user.email, reason=reason, now=now, module="contact")
    prospect.converted_contact_id, prospect.converted_at = contact.id, now
    prospect.distribution_state = lifecycle.CONVERTED
    lifecycle.change_status(session, prospect, lifecycle.STATUS_CONVERTED, actor=user.email,
                            reason=f"converted to contact {contact.id} at account {account.name}", now=now)
    return contact
