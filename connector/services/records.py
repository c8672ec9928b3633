"""The records service: every create, update and archive of a UPM record (prospects, companies,
contacts, accounts, opportunities with their line items, registered deals, notes, tasks, campaigns).

Each call is one transaction on a datastore whose session hooks are installed (the Runtime's), so
the record and its outbox rows commit together: what is written here reaches the CRMs on the next
cycle. Who may do what:
- a vendor (`Actor.user_id is None`) reaches every record;
- a partner user reads and writes within its visibility (connector/leads/visibility.py): a record
  it does not see is NotFound, exactly as one that does not exist; Read-Only access, or a kind that
  is the vendor's (companies, campaigns), is NotAllowed; what it creates is its partner's.
Versions: a record's version is its `updated_at` in microseconds; an edit names the version it was
made on (`if_match`) and is refused with VersionMismatch when the record has moved on since.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connector.clock import Clock
from connector.leads import assign, lifecycle
from connector.leads.inbox import ACTIVITY_KINDS
from connector.leads.locks import lock
from connector.leads.service import LeadService
from connector.leads.visibility import READ_WRITE, Scope, record_access, record_accesses, record_clause, scope_of
from connector.services import conversions
from connector.services.errors import Invalid, NotAllowed, NotFound, PreconditionRequired, VersionMismatch
from connector.services.kinds import KINDS_BY_KEY, LINE_ITEM_FIELDS, MODELS_BY_KEY, Kind
from connector.store.base import utcnow
from connector.store.database import Database
from connector.store.partners import PartnerAccount, PartnerUser
from connector.store.distribution import LeadActivity
from connector.store.records import LineItem, Note, Opportunity, Prospect, RegisteredDeal

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_PAGE = 500
MICROSECOND = timedelta(microseconds=1)
MAX_MONEY = Decimal(10) ** 16
"""What a money column (18 digits, 2 after the point) holds."""


@dataclass(frozen=True)
class Actor:
    """Who writes: a vendor caller's name, or a partner user (id and email in `name`)."""

    name: str
    user_id: int | None = None


@dataclass(frozen=True)
class View:
    """A record as the service hands it out: its fields (line items, attribution included), its
    version and the caller's access (None for a vendor)."""

    data: dict[str, Any]
    version: str
    access: str | None


@dataclass(frozen=True)
class Filters:
    """List filters: status (the kind's status column), partner (`partner_account_id`), changed at or
    after `updated_since`, and `q` (case-insensitive, contained in the kind's search columns)."""

    status: str | None = None
    partner: int | None = None
    updated_since: datetime | None = None
    q: str | None = None


@dataclass(frozen=True)
class Page:
    items: list[View]
    next_cursor: str | None


def version_of(record: Any) -> str:
    """The record's version: its last change in microseconds since 1970."""
    return str((record.updated_at - EPOCH) // MICROSECOND)


def touch(record: Any) -> None:
    """Move the record's version on: now, or a microsecond past the last one if the clock has not moved."""
    now = utcnow()
    record.updated_at = now if record.updated_at is None or now > record.updated_at else record.updated_at + MICROSECOND


def check_version(record: Any, label: str, if_match: str | None) -> None:
    """The edit was made on the record's current version (If-Match: `"V"`, `W/"V"`, a list, or `*`)."""
    if if_match is None:
        raise PreconditionRequired(f"editing {label} needs If-Match with the version (ETag) you read")
    current = version_of(record)
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if "*" not in tags and current not in tags:
        raise VersionMismatch(label, current)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["before"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        value = None
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid("cursor", cursor, "not a cursor this API gave out")
    return value


class RecordService:
    """Create, read, update, archive and list every UPM record kind (see the module doc)."""

    def __init__(self, db: Database, leads: LeadService, clock: Clock):
        self.db = db
        self.leads = leads
        self.clock = clock

    # -- reading ----------------------------------------------------------------------------------

    def get(self, kind: Kind, record_id: int, actor: Actor) -> View:
        with self.db.session() as session:
            record, access = self._seen(session, kind, record_id, actor)
            return self.view(session, kind, record, access)

    def page(self, kind: Kind, actor: Actor, filters: Filters, cursor: str | None = None, limit: int = 50) -> Page:
        """One page of the kind, newest first (keyset on id: as fast on the last page as the first)."""
        model: Any = kind.model
        query = select(model).where(model.archived_at.is_(None)).order_by(model.id.desc())
        if cursor is not None:
            query = query.where(model.id < decode_cursor(cursor))
        if filters.status is not None and kind.status is not None:
            query = query.where(kind.column(kind.status) == filters.status)
        if filters.partner is not None and kind.owned:
            query = query.where(model.partner_account_id == filters.partner)
        if filters.updated_since is not None:
            since = filters.updated_since
            query = query.where(model.updated_at >= (since if since.tzinfo else since.replace(tzinfo=timezone.utc)))
        if filters.q:
            needle = filters.q.lower()
            query = query.where(or_(*(func.lower(kind.column(c)).contains(needle, autoescape=True) for c in kind.q)))
        limit = max(1, min(limit, MAX_PAGE))
        with self.db.session() as session:
            scope = self._scope(session, actor)
            if actor.user_id is not None:
                query = query.where(record_clause(scope, kind.key, kind.model, MODELS_BY_KEY))
            found = list(session.scalars(query.limit(limit + 1)))
            more = len(found) > limit
            found = found[:limit]
            accesses = ([None] * len(found) if actor.user_id is None else
                        record_accesses(session, scope, kind.key, found, MODELS_BY_KEY))
            items = [self.view(session, kind, r, a) for r, a in zip(found, accesses, strict=True)]
            return Page(items, encode_cursor(found[-1].id) if more else None)

    # -- writing ----------------------------------------------------------------------------------

    def create(self, kind: Kind, actor: Actor, values: Mapping[str, Any],
               line_items: Sequence[Mapping[str, Any]] | None = None) -> View:
        if kind.name == "deals":
            return self.register_deal(values["opportunity_id"], actor, name=values.get("name"),
                                      approval_status=values.get("approval_status"))
        now = self.clock.now()
        with self.db.session() as session:
            scope = self._scope(session, actor)
            self._may_write_kind(kind, actor)
            fields = dict(values)
            user = self._user(session, actor)
            if user is not None and kind.owned and fields.get("partner_account_id") is None:
                fields["partner_account_id"] = user.account_id
            self._check_values(session, kind, actor, scope, fields)
            record: Any = kind.model(**fields, created_at=now, updated_at=utcnow())
            if kind.key == "note" and user is not None:
                record.author_user_id = user.id
            if isinstance(record, Prospect) and user is not None:
                record.distribution_state, record.accepted_at = lifecycle.ACCEPTED, now
                record.assigned_user_id, record.status = user.id, fields.get("status") or lifecycle.STATUS_ACCEPTED
            if isinstance(record, Opportunity):
                self._set_lines(record, line_items or [])
            session.add(record)
            session.flush()
            if isinstance(record, Prospect) and user is not None:
                assign.grant(session, record.id, [("account", user.account_id), ("user", user.id)], READ_WRITE,
                             actor=user.email, reason="created by the partner", now=now)
            return self.view(session, kind, record, None if user is None else READ_WRITE)

    def update(self, kind: Kind, record_id: int, actor: Actor, values: Mapping[str, Any], if_match: str | None,
               line_items: Sequence[Mapping[str, Any]] | None = None) -> View:
        with self.db.session() as session:
            scope = self._scope(session, actor)
            record, access = self._writable(session, kind, record_id, actor, if_match, locked=True)
            fields = dict(values)
            self._check_values(session, kind, actor, scope, fields)
            if kind.key == "registered_deal" and "opportunity_id" in fields:
                raise Invalid("opportunity_id", fields["opportunity_id"], "a deal stays with the opportunity it registers")
            status = fields.pop("status", None) if isinstance(record, Prospect) else None
            for name, value in fields.items():
                setattr(record, name, value)
            if status is not None and status != record.status:
                lifecycle.change_status(session, record, status, actor=actor.name, reason="edited", now=self.clock.now())
            if isinstance(record, Opportunity) and line_items is not None:
                self._set_lines(record, line_items)
            touch(record)
            session.flush()
            return self.view(session, kind, record, access)

    def archive(self, kind: Kind, record_id: int, actor: Actor, if_match: str | None) -> View:
        with self.db.session() as session:
            record, access = self._writable(session, kind, record_id, actor, if_match, locked=True)
            record.archived_at = self.clock.now()
            touch(record)
            session.flush()
            return self.view(session, kind, record, access)

    def register_deal(self, opportunity_id: int, actor: Actor, *, name: str | None = None,
                      approval_status: str | None = None) -> View:
        """Register a Closed Won opportunity as a deal (one live deal per opportunity), carrying its
        account, amount, partner, notes and grants; the campaign attribution is read through it."""
        deals = KINDS_BY_KEY["registered_deal"]
        with self.db.session() as session:
            opportunity = self._referenced(session, actor, "opportunity_id", "opportunity", opportunity_id, write=True)
            if approval_status is not None and actor.user_id is not None:
                raise Invalid("approval_status", approval_status, "set by the vendor only")
            deal = conversions.register(session, opportunity, actor.name, self.clock.now(), name=name,
                                        approval_status=approval_status)
            return self.view(session, deals, deal, None if actor.user_id is None else READ_WRITE)

    def convert_prospect(self, prospect_id: int, actor: Actor, *, account_id: int | None = None,
                         new_account: bool = False) -> View:
        """Prospect -> contact at an existing account or a new one from its company (LeadService.convert:
        the prospect's grants and history carry over; the contact links back to it, and so to its
        campaign). Acts as the partner user working the lead."""
        prospects, contacts = KINDS_BY_KEY["prospect"], KINDS_BY_KEY["contact"]
        if actor.user_id is None:
            raise NotAllowed("converting a lead acts as the partner user working it: call with the user's key")
        with self.db.session() as session:
            self._seen(session, prospects, prospect_id, actor)
            if account_id is not None:
                self._referenced(session, actor, "account_id", "account", account_id)
        contact_id = self.leads.convert(prospect_id, actor.user_id, account_id=account_id, new_account=new_account)
        return self.get(contacts, contact_id, actor)

    def log_activity(self, kind: Kind, record_id: int, actor: Actor, activity: str, subject: str | None,
                     body: str | None) -> dict[str, Any]:
        """A call, email, meeting or note on a record. On a prospect it is the lead's activity
        (LeadService.log_activity: it moves the lead's aging clock); on another kind it is kept as a
        note on the record, titled with the activity."""
        if activity not in ACTIVITY_KINDS:
            raise Invalid("kind", activity, f"one of {', '.join(ACTIVITY_KINDS)}")
        now = self.clock.now()
        if kind.key == "prospect" and actor.user_id is not None:
            with self.db.session() as session:
                self._writable(session, kind, record_id, actor, "*", locked=False)
            activity_id = self.leads.log_activity(record_id, actor.user_id, activity, subject, body)
            return {"id": activity_id, "stored_as": "lead_activity", "kind": activity, "record_module": kind.key,
                    "record_id": record_id, "subject": subject, "body": body, "at": now}
        with self.db.session() as session:
            record, _access = self._writable(session, kind, record_id, actor, "*", locked=True)
            if isinstance(record, Prospect):
                entry: Any = LeadActivity(prospect_id=record.id, kind=activity, subject=subject, body=body,
                                          actor=actor.name, at=now)
                record.last_activity_at = now
            else:
                title = f"{activity.capitalize()}: {subject}" if subject else activity.capitalize()
                entry = Note(record_module=kind.key, record_id=record.id, title=title[:255], body=body,
                             author_user_id=actor.user_id)
            session.add(entry)
            session.flush()
            return {"id": entry.id, "stored_as": "lead_activity" if isinstance(record, Prospect) else "note",
                    "kind": activity, "record_module": kind.key, "record_id": record_id, "subject": subject,
                    "body": body, "at": now}

    def change_status(self, prospect_id: int, actor: Actor, status: str, reason: str | None) -> View:
        """A lead's status, written to its status history. A partner user sets a working status on a
        lead it accepted (LeadService.change_status, which tells the reviewers); a vendor any status."""
        prospects = KINDS_BY_KEY["prospect"]
        if actor.user_id is not None:
            with self.db.session() as session:
                self._writable(session, prospects, prospect_id, actor, "*", locked=False)
            self.leads.change_status(prospect_id, actor.user_id, status, reason)
            return self.get(prospects, prospect_id, actor)
        with self.db.session() as session:
            record, access = self._writable(session, prospects, prospect_id, actor, "*", locked=True)
            lifecycle.change_status(session, record, status, actor=actor.name, reason=reason, now=self.clock.now())
            touch(record)
            session.flush()
            return self.view(session, prospects, record, access)

    # -- what views carry ----------------------------------------------------------------------------

    def view(self, session: Session, kind: Kind, record: Any, access: str | None) -> View:
        data = {c.key: getattr(record, c.key) for c in record.__mapper__.column_attrs if c.key not in kind.hidden}
        if isinstance(record, Opportunity):
            data["line_items"] = [{f: getattr(item, f) for f in ("id", *LINE_ITEM_FIELDS, "total", "net")}
                                  for item in record.line_items]
        if isinstance(record, RegisteredDeal):
            source = session.get(Opportunity, record.opportunity_id)
            for name in ("contact_id", "campaign_id", "offer_id", "tactic_id"):
                data[name] = getattr(source, name) if source is not None else None
        return View(data, version_of(record), access)

    # -- checks ---------------------------------------------------------------------------------------

    def _scope(self, session: Session, actor: Actor) -> Scope | None:
        return None if actor.user_id is None else scope_of(session, actor.user_id)

    @staticmethod
    def _user(session: Session, actor: Actor) -> PartnerUser | None:
        return None if actor.user_id is None else session.get(PartnerUser, actor.user_id)

    def _seen(self, session: Session, kind: Kind, record_id: int, actor: Actor, *, locked: bool = False
              ) -> tuple[Any, str | None]:
        """The record and the actor's access; NotFound when it does not exist or the actor does not see it."""
        label = f"{kind.key.replace('_', ' ')} {record_id}"
        try:
            record = lock(session, kind.model, record_id) if locked else session.get(kind.model, record_id)
        except NotFound:
            record = None
        if record is None:
            raise NotFound(f"no {label}")
        if actor.user_id is None:
            return record, None
        access = record_access(session, self._scope(session, actor), kind.key, record, MODELS_BY_KEY)
        if access is None:
            raise NotFound(f"no {label}")
        return record, access

    def _may_write_kind(self, kind: Kind, actor: Actor) -> None:
        if actor.user_id is not None and not kind.partner_writes:
            raise NotAllowed(f"{kind.name} are the vendor's: a partner user's key reads them only")

    def _writable(self, session: Session, kind: Kind, record_id: int, actor: Actor, if_match: str | None,
                  *, locked: bool) -> tuple[Any, str | None]:
        record, access = self._seen(session, kind, record_id, actor, locked=locked)
        self._may_write_kind(kind, actor)
        label = f"{kind.key.replace('_', ' ')} {record_id}"
        if access is not None and access != READ_WRITE:
            raise NotAllowed(f"you have read-only access to {label}")
        if record.archived_at is not None:
            raise NotFound(f"{label} is archived")
        check_version(record, label, if_match)
        return record, access

    def _check_values(self, session: Session, kind: Kind, actor: Actor, scope: Scope | None,
                      fields: dict[str, Any]) -> None:
        """Vendor-only fields, the owning partner, and every reference: to a record that exists (and
        that a partner sees), never to another partner's."""
        for name, value in fields.items():
            if actor.user_id is not None and name in kind.vendor_only and value is not None:
                raise Invalid(name, value, "set by the vendor only")
        for name, value in fields.items():
            column = kind.column(name)
            if value is None:
                if not column.nullable:
                    raise Invalid(name, None, "cannot be empty")
                continue
            targets = {fk.column.table.name for fk in column.foreign_keys}
            if "partner_accounts" in targets:
                if actor.user_id is None:
                    acts_for = session.get(PartnerAccount, value) is not None
                else:
                    acts_for = scope is not None and value in scope.account_ids
                if not acts_for:
                    raise Invalid(name, value, "not a partner account you act for")
            elif "partner_users" in targets:
                user = session.get(PartnerUser, value)
                if user is None or (actor.user_id is not None and (scope is None or user.account_id not in scope.account_ids)):
                    raise Invalid(name, value, "no such partner user among your partners")
            elif targets:
                (table,) = targets
                key = next(k for k, m in MODELS_BY_KEY.items() if m.__tablename__ == table)  # type: ignore[attr-defined]
                self._referenced(session, actor, name, key, value)
        if "record_module" in fields or "record_id" in fields:
            module, record_id = fields.get("record_module"), fields.get("record_id")
            if module not in MODELS_BY_KEY or module in ("note", "task"):
                attachable = sorted(k for k in MODELS_BY_KEY if k not in ("note", "task"))
                raise Invalid("record_module", module, f"one of {', '.join(attachable)}")
            self._referenced(session, actor, "record_id", module, record_id, write=True)

    def _referenced(self, session: Session, actor: Actor, field: str, key: str, record_id: Any,
                    write: bool = False) -> Any:
        """The record a field points at; Invalid naming the field when it is not there (for a partner:
        not seen, the same answer), NotAllowed when `write` needs Read-Write and the partner has less."""
        model = MODELS_BY_KEY[key]
        record: Any = session.get(model, record_id) if isinstance(record_id, int) else None
        access = None
        if record is not None and record.archived_at is None and actor.user_id is not None:
            access = record_access(session, self._scope(session, actor), key, record, MODELS_BY_KEY)
            if access is None:
                record = None
        if record is None or record.archived_at is not None:
            raise Invalid(field, record_id, f"no {key.replace('_', ' ')} {record_id}")
        if write and access is not None and access != READ_WRITE:
            raise NotAllowed(f"you have read-only access to {key.replace('_', ' ')} {record_id}")
        return record

    @staticmethod
    def _set_lines(opportunity: Opportunity, lines: Sequence[Mapping[str, Any]]) -> None:
        """Replace the line items and set the amount to the sum of their net values."""
        items = []
        for values in lines:
            item = LineItem(**{k: v for k, v in values.items() if v is not None})
            item.compute()
            items.append(item)
        opportunity.line_items = items
        if opportunity.recompute_amount() >= MAX_MONEY:
            raise Invalid("line_items", len(items), f"the amount would pass {MAX_MONEY - Decimal('0.01'):,}")

