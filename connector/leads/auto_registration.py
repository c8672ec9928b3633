"""ZiftONE auto-registration: register a partner's lead with the supplier when it matches the rules.

Rules come in groups: every condition of a group must hold (AND), any one group suffices (OR); a
group without conditions never matches. A partner chooses in `settings["auto_registration"]`:
"off" (default), "supplier" (the supplier-managed groups, partner_account_id null) or "own" (its
own groups). Rules are evaluated when a partner's lead is created or updated - never by combing
existing leads - and never for a company the partner ignores. Only the partner's own leads count:
created with the partner as holder and never distributed (a vendor's lead handed to the partner, by
the rules or as its named account's, is not registered back).

Registering sets `registered_at` (which shares the lead with the supplier: the CRM sync picks it
up) and records a "registration" activity naming the group that matched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE, get_history

from connector.clock import Clock
from connector.leads import lifecycle
from connector.leads.eligibility import fold, folded
from connector.leads.errors import InvalidRule
from connector.store.database import Database
from connector.store.distribution import AutoRegistrationCondition, AutoRegistrationGroup, LeadActivity
from connector.store.partners import PartnerAccount
from connector.store.records import Prospect

MODES = ("off", "supplier", "own")
FIELDS = ("country", "state", "city", "industry", "lead_source", "segment", "product_interest", "company_name",
          "company_employees", "company_annual_revenue", "lead_score", "status", "campaign_id", "title", "email")
OPERATORS = ("equals", "not_equals", "in", "not_in", "contains", "gte", "lte", "is_set", "not_set")


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def holds(condition: AutoRegistrationCondition, prospect: Prospect) -> bool:
    """One condition on the lead; text compares case-insensitively, gte/lte numerically."""
    actual = getattr(prospect, condition.field)
    operator, expected = condition.operator, condition.value
    if operator == "is_set":
        return actual not in (None, "")
    if operator == "not_set":
        return actual in (None, "")
    if operator in ("gte", "lte"):
        have, want = _number(actual), _number(expected)
        if have is None or want is None:
            return False
        return have >= want if operator == "gte" else have <= want
    text = fold(None if actual is None else str(actual))
    if operator == "contains":
        return bool(fold(str(expected))) and fold(str(expected)) in text
    options = folded(str(v) for v in (expected if isinstance(expected, list) else [expected]))
    inside = text in options
    return inside if operator in ("equals", "in") else not inside


def matching_group(groups: Sequence[AutoRegistrationGroup], prospect: Prospect) -> AutoRegistrationGroup | None:
    """The first active group whose conditions all hold."""
    return next((g for g in groups if g.active and g.conditions and all(holds(c, prospect) for c in g.conditions)), None)


def groups_for(session: Session, partner: PartnerAccount) -> list[AutoRegistrationGroup]:
    """The groups that apply to this partner's leads under its chosen mode."""
    mode = (partner.settings or {}).get("auto_registration", "off")
    if mode not in MODES or mode == "off":
        return []
    owner = AutoRegistrationGroup.partner_account_id
    return list(session.scalars(
        select(AutoRegistrationGroup).where(owner.is_(None) if mode == "supplier" else owner == partner.id)
        .order_by(AutoRegistrationGroup.position, AutoRegistrationGroup.id)))


def ignored(partner: PartnerAccount, prospect: Prospect) -> bool:
    return bool(prospect.company_name) and fold(prospect.company_name) in folded(partner.ignored_companies)


def partner_before(prospect: Prospect) -> int | None:
    """The partner the lead belonged to before the change being flushed (a new lead: its partner)."""
    history = get_history(prospect, "partner_account_id", PASSIVE_NO_INITIALIZE)
    if inspect(prospect).persistent and history.has_changes():
        return history.deleted[0] if history.deleted else None  # an unloaded value: treat it as a handover
    return prospect.partner_account_id


def is_partners_own(prospect: Prospect) -> bool:
    """A lead the partner itself holds from the start: never distributed, not being handed over now."""
    return (prospect.partner_account_id is not None
            and prospect.distribution_state in (None, lifecycle.NEW)  # None: not inserted yet
            and partner_before(prospect) == prospect.partner_account_id)


def evaluate(session: Session, prospect: Prospect, now: datetime) -> AutoRegistrationGroup | None:
    """Register the lead if it is an unregistered partner's own lead that a group matches; the group,
    or None."""
    if not is_partners_own(prospect) or prospect.registered_at is not None or prospect.archived_at is not None:
        return None
    partner = session.get(PartnerAccount, prospect.partner_account_id)
    if partner is None or ignored(partner, prospect):
        return None
    group = matching_group(groups_for(session, partner), prospect)
    if group is None:
        return None
    prospect.registered_at = now
    session.add(LeadActivity(prospect=prospect, kind="registration", subject=f"auto-registered by rule group {group.name}",
                             actor="auto-registration", at=now))
    return group


def add_group(session: Session, *, partner_account_id: int | None, name: str,
              conditions: Sequence[Mapping[str, Any]], position: int = 0) -> AutoRegistrationGroup:
    """A new group of conditions ({"field", "operator", "value"}); partner null: supplier-managed."""
    if not conditions:
        raise InvalidRule(f"auto-registration group {name!r} needs at least one condition")
    group = AutoRegistrationGroup(partner_account_id=partner_account_id, name=name, position=position)
    for spec in conditions:
        field, operator = spec.get("field"), spec.get("operator", "equals")
        if field not in FIELDS:
            raise InvalidRule(f"auto-registration field {field!r} (known: {', '.join(FIELDS)})")
        if operator not in OPERATORS:
            raise InvalidRule(f"auto-registration operator {operator!r} (known: {', '.join(OPERATORS)})")
        group.conditions.append(AutoRegistrationCondition(field=field, operator=operator, value=spec.get("value")))
    session.add(group)
    session.flush()
    return group


def install(db: Database, clock: Clock) -> None:
    """Evaluate the rules whenever a session of `db` writes a new or changed prospect (install once)."""

    def before_flush(session: Session, _context: object, _instances: object) -> None:
        new = session.new  # a new set at each read: read once
        changed = [p for p in (*new, *session.dirty)  # only a partner's own lead can register: the
                   if isinstance(p, Prospect) and is_partners_own(p)  # others skip the costlier change test
                   and (p in new or session.is_modified(p))]
        if changed:
            with session.no_autoflush:
                for prospect in changed:
                    evaluate(session, prospect, clock.now())

    event.listen(db.sessions, "before_flush", before_flush)
