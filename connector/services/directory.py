"""The partner directory as a service: partner accounts (with their hierarchy), partner users,
partner groups and named (protected) accounts. The command line, the API, imports and seeding all
write the directory through `DirectoryService`.

Every write is one transaction that also gives the directory a new version
(connector.store.directory_version), so lead distribution never decides on an outdated snapshot,
whether or not the database carries the runtime's hooks. A write that changes nothing writes
nothing (seeding is idempotent).

References: a partner is named by its id or its name (case-insensitive; names are unique), a user
by id or email, a group by id or name, a named account by id or name. Bad input raises
`InvalidField` naming the field and the value ("parent: 'Nope' is not a partner"); an unknown
record addressed directly raises `UnknownRecord`.

Deactivating a partner or a user pulls back the leads it holds (assigned or accepted) and
redistributes each through the LeadService, past that partner; the answer lists every lead and
where it went. A deactivated user's (or partner's users') API keys stop working: the API refuses
inactive users and users of inactive accounts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import pycountry
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.leads import lifecycle
from connector.leads.errors import LeadError
from connector.leads.imports.cells import parse_email
from connector.leads.imports.countries import suggest_country
from connector.leads.imports.text import Invalid
from connector.leads.service import LeadService
from connector.store import directory_version
from connector.store.assignments import RecordAssignment
from connector.store.database import Database
from connector.store.distribution import AssignmentRule
from connector.store.ids import as_id
from connector.store.lists import one_of
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerGroupMember, PartnerUser
from connector.store.records import Account, Prospect

ACTOR = "directory"

_ALPHA2 = {c.alpha_2 for c in pycountry.countries}
_ALPHA3 = {c.alpha_3 for c in pycountry.countries}

M = TypeVar("M", bound=BaseModel)


class DirectoryError(ValueError):
    """A directory write refused; nothing was written."""


class InvalidField(DirectoryError):
    """A value that cannot be right: `field`, `value` and why (the message names both)."""

    def __init__(self, field: str, value: Any, reason: str, *, message: str | None = None):
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"{field}: {message or f'{_quoted(value)} {reason}'}")


class UnknownRecord(DirectoryError):
    """The partner, user, group or named account addressed does not exist."""


class InUse(DirectoryError):
    """The record cannot be removed while something depends on it (the message says what)."""


def _quoted(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_quoted(v) for v in value) + "]"
    return f"'{value}'" if value is not None else "(empty)"


# -- what callers send ----------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PartnerChanges(_Strict):
    """A partner account's fields; on edit only those given change (`parent: ""` detaches it)."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    account_type: str | None = Field(default=None, max_length=40, description="Distributor, Reseller, Alliance, OEM")
    tier: str | None = Field(default=None, max_length=40, description="The medallion: Platinum, Gold, Silver, ...")
    parent: str | None = Field(default=None, description="The parent account's name or id; '' for none")
    countries: list[str] | None = Field(default=None, description="ISO 3166 codes of the territory")
    states: list[str] | None = None
    industries: list[str] | None = None
    competencies: list[str] | None = None
    certifications: list[str] | None = None
    products: list[str] | None = None
    auto_accept: bool | None = None
    ignored_companies: list[str] | None = None
    notification_recipients: list[str] | None = Field(default=None, description="Default lead notification emails")
    active: bool | None = None

    @field_validator("countries")
    @classmethod
    def _countries(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        codes = []
        for value in values:
            code = value.strip().upper()
            if code not in _ALPHA2 and code not in _ALPHA3:
                hint = suggest_country(value)
                raise ValueError(f"'{value}' is not an ISO 3166 country code"
                                 + (f"; did you mean '{hint}'?" if hint else ""))
            codes.append(code)
        return codes

    @field_validator("notification_recipients")
    @classmethod
    def _recipients(cls, values: list[str] | None) -> list[str] | None:
        for value in values or ():
            try:
                parse_email(value)
            except Invalid as exc:
                raise ValueError(f"'{value}' {exc}") from None
        return values


class PartnerSpec(PartnerChanges):
    """A new partner account (the name is required)."""

    name: str = Field(min_length=1, max_length=255)


class UserChanges(_Strict):
    """A partner user's fields; on edit only those given change."""

    email: str | None = Field(default=None, max_length=320)
    partner: str | None = Field(default=None, description="The partner account's name or id")
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)
    role: Literal["admin", "marketing", "sales"] | None = None
    active: bool | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_email(value)
            except Invalid as exc:
                raise ValueError(f"'{value}' {exc}") from None
        return value


class UserSpec(UserChanges):
    """A new partner user (email and partner are required; role defaults to sales)."""

    email: str = Field(max_length=320)
    partner: str
    role: Literal["admin", "marketing", "sales"] = "sales"


class MemberSpec(_Strict):
    """A group member: a partner account, optionally with the named rep who receives its leads."""

    partner: str
    rep: str | None = Field(default=None, description="The rep's email (a user of that partner)")


class GroupChanges(_Strict):
    """A partner group's fields; `members` (in rotation order) replaces the whole list."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1000)
    distribution_model: Literal["round_robin", "shark_tank"] | None = None
    criteria: dict[str, Any] | None = Field(default=None, description="What makes a partner belong (for people)")
    members: list[MemberSpec] | None = None

    @field_validator("members", mode="before")
    @classmethod
    def _members(cls, values: Any) -> Any:
        """A member may be written as just the partner's name: "Acme" or "Acme=rep@acme.example"."""
        if not isinstance(values, list):
            return values
        out = []
        for value in values:
            if isinstance(value, str):
                partner, _, rep = value.partition("=")
                value = {"partner": partner.strip(), **({"rep": rep.strip()} if rep.strip() else {})}
            out.append(value)
        return out


class GroupSpec(GroupChanges):
    """A new partner group."""

    name: str = Field(min_length=1, max_length=255)
    distribution_model: Literal["round_robin", "shark_tank"] = "round_robin"


class NamedAccountChanges(_Strict):
    """A named (protected) account: its leads go to the owning partner and its rep."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    partner: str | None = Field(default=None, description="The owning partner's name or id")
    rep: str | None = Field(default=None, description="The named rep's email; '' for none")


class NamedAccountSpec(NamedAccountChanges):
    """A new named account (or an existing account of that name, now protected)."""

    name: str = Field(min_length=1, max_length=255)
    partner: str


# -- what callers get back ------------------------------------------------------------------------

class PartnerView(BaseModel):
    id: int
    name: str
    account_type: str | None
    tier: str | None
    parent_id: int | None
    parent: str | None
    children: list[str]
    countries: list[str]
    states: list[str]
    industries: list[str]
    competencies: list[str]
    certifications: list[str]
    products: list[str]
    auto_accept: bool
    ignored_companies: list[str]
    notification_recipients: list[str]
    active: bool
    users: int


class UserView(BaseModel):
    id: int
    email: str
    first_name: str | None
    last_name: str | None
    role: str | None
    active: bool
    partner_id: int
    partner: str
    has_api_key: bool


class MemberView(BaseModel):
    position: int
    partner_id: int
    partner: str
    rep_id: int | None
    rep: str | None


class GroupView(BaseModel):
    id: int
    name: str
    description: str | None
    distribution_model: str
    criteria: dict[str, Any]
    members: list[MemberView]


class NamedAccountView(BaseModel):
    id: int
    name: str
    named: bool
    partner_id: int | None
    partner: str | None
    rep_id: int | None
    rep: str | None


class MovedLead(BaseModel):
    """A lead taken back from a deactivated partner or user, and where it went."""

    lead_id: int
    state: str
    status: str
    partner_id: int | None
    partner: str | None
    user_id: int | None
    group_id: int | None
    reason: str


class Deactivation(BaseModel):
    """What deactivating did: the record, whether it was active, and each of its leads."""

    kind: Literal["partner", "user"]
    id: int
    name: str
    was_active: bool
    leads: list[MovedLead]
    problems: list[str] = Field(default_factory=list, description="Leads that could not be moved, and why")


def parse(model: type[M], data: Any, where: str = "") -> M:
    """`data` as `model`; InvalidField naming the first bad field (prefixed by `where`) otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = where + (".".join(str(p) for p in error["loc"]) or "(record)")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            raise InvalidField(field, None, "is required", message="a value is required") from None
        if error["type"] == "extra_forbidden":
            raise InvalidField(field, error.get("input"), "is not a field", message="unknown field") from None
        if message.startswith("'"):  # our own validators name the value
            raise InvalidField(field, error.get("input"), message, message=message) from None
        raise InvalidField(field, error.get("input"), "is invalid: " + message) from None


# -- the service ----------------------------------------------------------------------------------

class DirectoryService:
    """Directory writes and reads over one datastore; deactivations redistribute through `leads`."""

    def __init__(self, db: Database, leads: LeadService):
        self.db = db
        self.leads = leads

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """One transaction that bumps the directory version when it changed anything."""
        with self.db.session() as session:
            yield session
            session.flush()
            if session.info.pop("directory_changed", False):
                directory_version.bump(session)

    # -- partners -----------------------------------------------------------------------------------

    def add_partner(self, spec: PartnerSpec) -> PartnerView:
        with self._writing() as s:
            self._unique_name(s, spec.name)
            account = PartnerAccount(name=spec.name)
            s.add(account)
            self._apply_partner(s, account, spec.model_dump(exclude_unset=True, exclude={"name"}))
            s.flush()
            return self._partner_view(s, account)

    def edit_partner(self, ref: str | int, changes: PartnerChanges) -> PartnerView:
        with self._writing() as s:
            account = self._partner(s, ref)
            values = changes.model_dump(exclude_unset=True)
            if "name" in values and values["name"].lower() != account.name.lower():
                self._unique_name(s, values["name"])
            self._apply_partner(s, account, values)
            s.flush()
            return self._partner_view(s, account)

    def partner(self, ref: str | int) -> PartnerView:
        with self.db.session() as s:
            return self._partner_view(s, self._partner(s, ref))

    def partners(self, *, include_inactive: bool = True) -> list[PartnerView]:
        with self.db.session() as s:
            query = select(PartnerAccount).order_by(PartnerAccount.id)
            if not include_inactive:
                query = query.where(PartnerAccount.active.is_(True))
            return self._partner_views(s, list(s.scalars(query)))

    def deactivate_partner(self, ref: str | int, reason: str = "the partner was deactivated") -> Deactivation:
        """Make the partner inactive, then pull back every lead it holds and redistribute it."""
        with self._writing() as s:
            account = self._partner(s, ref)
            was_active = account.active
            if was_active:
                account.active = False
                s.info["directory_changed"] = True
            held = list(s.scalars(select(Prospect.id).where(
                Prospect.partner_account_id == account.id, Prospect.distribution_state.in_(lifecycle.HELD),
                Prospect.archived_at.is_(None)).order_by(Prospect.id)))
            found = (account.id, account.name)
        return self._redistribute("partner", found, was_active, held, f"{found[1]} deactivated: {reason}")

    # -- users ----------------------------------------------------------------------------------------

    def add_user(self, spec: UserSpec) -> UserView:
        with self._writing() as s:
            self._unique_email(s, spec.email)
            user = PartnerUser(email=spec.email, account_id=self._partner(s, spec.partner, "partner").id)
            s.add(user)
            self._apply_user(s, user, spec.model_dump(exclude_unset=True, exclude={"email", "partner"}))
            if user.role is None:
                user.role = spec.role
            s.info["directory_changed"] = True
            s.flush()
            return self._user_view(s, user)

    def edit_user(self, ref: str | int, changes: UserChanges) -> UserView:
        with self._writing() as s:
            user = self._user(s, ref)
            values = changes.model_dump(exclude_unset=True)
            if "email" in values and values["email"].lower() != user.email.lower():
                self._unique_email(s, values["email"])
            self._apply_user(s, user, values)
            s.flush()
            return self._user_view(s, user)

    def user(self, ref: str | int) -> UserView:
        with self.db.session() as s:
            return self._user_view(s, self._user(s, ref))

    def users(self, partner: str | int | None = None) -> list[UserView]:
        with self.db.session() as s:
            query = select(PartnerUser).order_by(PartnerUser.id)
            if partner is not None:
                query = query.where(PartnerUser.account_id == self._partner(s, partner, "partner").id)
            return [self._user_view(s, u) for u in s.scalars(query)]

    def deactivate_user(self, ref: str | int, reason: str = "the user was deactivated") -> Deactivation:
        """Make the user inactive (their API key stops working), then pull back the leads assigned
        to them and redistribute each."""
        with self._writing() as s:
            user = self._user(s, ref)
            was_active = user.active
            if was_active:
                user.active = False
                s.info["directory_changed"] = True
            held = list(s.scalars(select(Prospect.id).where(
                Prospect.assigned_user_id == user.id, Prospect.distribution_state.in_(lifecycle.HELD),
                Prospect.archived_at.is_(None)).order_by(Prospect.id)))
            found = (user.id, user.email)
        return self._redistribute("user", found, was_active, held, f"{found[1]} deactivated: {reason}")

    # -- groups ---------------------------------------------------------------------------------------

    def add_group(self, spec: GroupSpec) -> GroupView:
        with self._writing() as s:
            self._unique_group(s, spec.name)
            group = PartnerGroup(name=spec.name, distribution_model=spec.distribution_model)
            s.add(group)
            self._apply_group(s, group, spec.model_dump(exclude_unset=True, exclude={"name", "distribution_model"}))
            s.info["directory_changed"] = True
            s.flush()
            return self._group_view(s, group)

    def edit_group(self, ref: str | int, changes: GroupChanges) -> GroupView:
        with self._writing() as s:
            group = self._group(s, ref)
            values = changes.model_dump(exclude_unset=True)
            if "name" in values and values["name"].lower() != group.name.lower():
                self._unique_group(s, values["name"])
            self._apply_group(s, group, values)
            s.flush()
            return self._group_view(s, group)

    def group(self, ref: str | int) -> GroupView:
        with self.db.session() as s:
            return self._group_view(s, self._group(s, ref))

    def groups(self) -> list[GroupView]:
        with self.db.session() as s:
            return [self._group_view(s, g) for g in s.scalars(select(PartnerGroup).order_by(PartnerGroup.id))]

    def remove_group(self, ref: str | int) -> GroupView:
        """Delete a group no assignment rule targets and no lead is assigned to; returns what it was."""
        with self._writing() as s:
            group = self._group(s, ref)
            rule = s.scalars(select(AssignmentRule.name).where(AssignmentRule.target_type == "group",
                                                               AssignmentRule.target_id == group.id)).first()
            if rule is not None:
                raise InUse(f"group {group.name} is the target of assignment rule '{rule}': change the rule first")
            held = s.scalar(select(func.count()).select_from(RecordAssignment).where(
                RecordAssignment.assignee_type == "group", RecordAssignment.assignee_id == group.id,
                RecordAssignment.revoked_at.is_(None), RecordAssignment.offered_until.is_(None)))
            if held:
                raise InUse(f"group {group.name} holds {held} record assignment(s): reassign them first")
            view = self._group_view(s, group)
            s.delete(group)
            s.info["directory_changed"] = True
            return view

    # -- named accounts -------------------------------------------------------------------------------

    def add_named_account(self, spec: NamedAccountSpec) -> NamedAccountView:
        """Protect an account: an existing (unprotected) account of that name, else a new one."""
        with self._writing() as s:
            account = s.scalars(select(Account).where(func.lower(Account.name) == spec.name.lower(),
                                                      Account.archived_at.is_(None)).order_by(Account.id)).first()
            if account is not None and account.named:
                raise InvalidField("name", spec.name, f"is already a named account (id {account.id})")
            if account is None:
                account = Account(name=spec.name)
                s.add(account)
            account.named = True
            self._apply_named(s, account, spec.model_dump(exclude_unset=True, exclude={"name"}))
            s.info["directory_changed"] = True
            s.flush()
            return self._named_view(s, account)

    def edit_named_account(self, ref: str | int, changes: NamedAccountChanges) -> NamedAccountView:
        with self._writing() as s:
            account = self._named(s, ref)
            values = changes.model_dump(exclude_unset=True)
            if "name" in values and values["name"] != account.name:
                account.name = values.pop("name")
                s.info["directory_changed"] = True
            self._apply_named(s, account, values)
            s.flush()
            return self._named_view(s, account)

    def named_account(self, ref: str | int) -> NamedAccountView:
        with self.db.session() as s:
            return self._named_view(s, self._named(s, ref))

    def named_accounts(self) -> list[NamedAccountView]:
        with self.db.session() as s:
            query = select(Account).where(Account.named.is_(True), Account.archived_at.is_(None)).order_by(Account.id)
            return [self._named_view(s, a) for a in s.scalars(query)]

    def deactivate_named_account(self, ref: str | int) -> NamedAccountView:
        """Lift the protection: the account stays, its leads go by the rules from now on."""
        with self._writing() as s:
            account = self._named(s, ref)
            account.named = False
            s.info["directory_changed"] = True
            s.flush()
            return self._named_view(s, account)

    # -- internals: lookups ---------------------------------------------------------------------------

    @staticmethod
    def _by_ref(s: Session, model: Any, column: Any, ref: str | int, kind: str, field: str | None) -> Any:
        text = str(ref).strip()
        if text.isascii() and text.isdigit():  # an id (one out of range names nothing)
            number = as_id(text)
            row = s.get(model, number) if number is not None else None
        else:
            row = s.scalars(select(model).where(func.lower(column) == text.lower()).order_by(model.id)).first()
        if model is Account and row is not None and (not row.named or row.archived_at is not None):
            row = None
        if row is None:
            if field is not None:
                raise InvalidField(field, text, f"is not a {kind}")
            raise UnknownRecord(f"no {kind} '{text}'")
        return row

    def _partner(self, s: Session, ref: str | int, field: str | None = None) -> PartnerAccount:
        found: PartnerAccount = self._by_ref(s, PartnerAccount, PartnerAccount.name, ref, "partner", field)
        return found

    def _user(self, s: Session, ref: str | int, field: str | None = None) -> PartnerUser:
        found: PartnerUser = self._by_ref(s, PartnerUser, PartnerUser.email, ref, "partner user", field)
        return found

    def _group(self, s: Session, ref: str | int, field: str | None = None) -> PartnerGroup:
        found: PartnerGroup = self._by_ref(s, PartnerGroup, PartnerGroup.name, ref, "partner group", field)
        return found

    def _named(self, s: Session, ref: str | int) -> Account:
        found: Account = self._by_ref(s, Account, Account.name, ref, "named account", None)
        return found

    @staticmethod
    def _unique_name(s: Session, name: str) -> None:
        taken = s.scalar(select(PartnerAccount.id).where(func.lower(PartnerAccount.name) == name.lower()))
        if taken is not None:
            raise InvalidField("name", name, f"is already the name of partner {taken}")

    @staticmethod
    def _unique_email(s: Session, email: str) -> None:
        taken = s.scalar(select(PartnerUser.id).where(func.lower(PartnerUser.email) == email.lower()))
        if taken is not None:
            raise InvalidField("email", email, f"is already the email of user {taken}")

    @staticmethod
    def _unique_group(s: Session, name: str) -> None:
        taken = s.scalar(select(PartnerGroup.id).where(func.lower(PartnerGroup.name) == name.lower()))
        if taken is not None:
            raise InvalidField("name", name, f"is already the name of group {taken}")

    # -- internals: applying changes ------------------------------------------------------------------

    @staticmethod
    def _set(s: Session, row: Any, name: str, value: Any) -> None:
        if getattr(row, name) != value:
            setattr(row, name, value)
            s.info["directory_changed"] = True

    def _apply_partner(self, s: Session, account: PartnerAccount, values: dict[str, Any]) -> None:
        if "parent" in values:
            ref = values.pop("parent")
            parent = self._partner(s, ref, "parent") if ref else None
            if parent is not None:
                self._no_cycle(s, account, parent)
            self._set(s, account, "parent_id", parent.id if parent is not None else None)
            if parent is not None and account.id is None:
                account.parent = parent
        if account.id is None:
            s.info["directory_changed"] = True
        for name, value in values.items():
            if value is None and name in ("auto_accept", "active"):
                continue
            self._set(s, account, name, list(value) if isinstance(value, list) else value)

    @staticmethod
    def _no_cycle(s: Session, account: PartnerAccount, parent: PartnerAccount) -> None:
        path = [account.name, parent.name]
        seen = parent
        while seen is not None:
            if account.id is not None and seen.id == account.id:
                raise InvalidField("parent", parent.name, "would make a cycle: " + " -> ".join(path))
            seen = s.get(PartnerAccount, seen.parent_id) if seen.parent_id is not None else None
            if seen is not None:
                path.append(seen.name)

    def _apply_user(self, s: Session, user: PartnerUser, values: dict[str, Any]) -> None:
        if "partner" in values:
            self._set(s, user, "account_id", self._partner(s, values.pop("partner"), "partner").id)
        for name, value in values.items():
            if value is None and name == "active":
                continue
            self._set(s, user, name, value)

    def _apply_group(self, s: Session, group: PartnerGroup, values: dict[str, Any]) -> None:
        members = values.pop("members", None)
        for name, value in values.items():
            if value is None and name == "distribution_model":
                continue
            self._set(s, group, name, value)
        if members is None:
            return
        wanted: list[tuple[int, int | None]] = []
        for n, member in enumerate(members):
            partner = self._partner(s, member["partner"], f"members.{n}.partner")
            if any(account_id == partner.id for account_id, _ in wanted):
                raise InvalidField(f"members.{n}.partner", member["partner"], "is listed twice")
            rep_id = None
            if member.get("rep"):
                rep = self._user(s, member["rep"], f"members.{n}.rep")
                if rep.account_id != partner.id:
                    raise InvalidField(f"members.{n}.rep", member["rep"], f"is not a user of {partner.name}")
                rep_id = rep.id
            wanted.append((partner.id, rep_id))
        if [(m.account_id, m.user_id) for m in group.members] == wanted:
            return
        group.members.clear()
        s.flush()
        for position, (account_id, rep_id) in enumerate(wanted):
            group.members.append(PartnerGroupMember(account_id=account_id, user_id=rep_id, position=position))
        s.info["directory_changed"] = True

    def _apply_named(self, s: Session, account: Account, values: dict[str, Any]) -> None:
        if "partner" in values:
            self._set(s, account, "partner_account_id", self._partner(s, values["partner"], "partner").id)
        if "rep" in values:
            rep_id = None
            if values["rep"]:
                rep = self._user(s, values["rep"], "rep")
                if rep.account_id != account.partner_account_id:
                    raise InvalidField("rep", values["rep"], "is not a user of the owning partner")
                rep_id = rep.id
            self._set(s, account, "named_rep_id", rep_id)
        elif "partner" in values and account.named_rep_id is not None:
            rep = s.get(PartnerUser, account.named_rep_id)
            if rep is not None and rep.account_id != account.partner_account_id:
                self._set(s, account, "named_rep_id", None)

    # -- internals: redistribution --------------------------------------------------------------------

    def _redistribute(self, kind: Literal["partner", "user"], found: tuple[int, str], was_active: bool,
                      lead_ids: list[int], reason: str) -> Deactivation:
        moved, problems = [], []
        for lead_id in lead_ids:
            try:
                outcome = self.leads.pullback(lead_id, reason, actor=ACTOR)
            except LeadError as exc:  # moved meanwhile by someone else: say so, go on
                problems.append(f"lead {lead_id}: {exc}")
                continue
            moved.append(MovedLead(lead_id=lead_id, state=outcome.state, status=outcome.status,
                                   partner_id=outcome.account_id, partner=None, user_id=outcome.user_id,
                                   group_id=outcome.group_id, reason=outcome.reason))
        if moved:
            with self.db.session() as s:
                for lead in moved:
                    if lead.partner_id is not None:
                        account = s.get(PartnerAccount, lead.partner_id)
                        lead.partner = account.name if account is not None else None
        return Deactivation(kind=kind, id=found[0], name=found[1], was_active=was_active, leads=moved,
                            problems=problems)

    # -- internals: views -----------------------------------------------------------------------------

    @classmethod
    def _partner_view(cls, s: Session, a: PartnerAccount) -> PartnerView:
        return cls._partner_views(s, [a])[0]

    @staticmethod
    def _partner_views(s: Session, accounts: list[PartnerAccount]) -> list[PartnerView]:
        """The partners' views, their parents' names, children and user counts read in three
        queries for the whole list (not three per partner)."""
        dialect = s.get_bind().dialect.name
        ids = [a.id for a in accounts]
        parent_ids = sorted({a.parent_id for a in accounts if a.parent_id is not None})
        parents: dict[int, str] = {i: name for i, name in s.execute(
            select(PartnerAccount.id, PartnerAccount.name).where(one_of(PartnerAccount.id, parent_ids, dialect)))
        } if parent_ids else {}
        children: dict[int, list[str]] = {}
        for parent_id, name in s.execute(select(PartnerAccount.parent_id, PartnerAccount.name)
                                         .where(one_of(PartnerAccount.parent_id, ids, dialect))
                                         .order_by(PartnerAccount.id)):
            children.setdefault(parent_id, []).append(name)
        users: dict[int, int] = {i: n for i, n in s.execute(
            select(PartnerUser.account_id, func.count()).where(one_of(PartnerUser.account_id, ids, dialect))
            .group_by(PartnerUser.account_id))}
        return [PartnerView(id=a.id, name=a.name, account_type=a.account_type, tier=a.tier, parent_id=a.parent_id,
                            parent=parents.get(a.parent_id) if a.parent_id is not None else None,
                            children=children.get(a.id, []), countries=list(a.countries), states=list(a.states),
                            industries=list(a.industries), competencies=list(a.competencies),
                            certifications=list(a.certifications), products=list(a.products),
                            auto_accept=a.auto_accept, ignored_companies=list(a.ignored_companies),
                            notification_recipients=list(a.notification_recipients), active=a.active,
                            users=users.get(a.id, 0))
                for a in accounts]

    @staticmethod
    def _user_view(s: Session, u: PartnerUser) -> UserView:
        account = s.get(PartnerAccount, u.account_id)
        return UserView(id=u.id, email=u.email, first_name=u.first_name, last_name=u.last_name, role=u.role,
                        active=u.active, partner_id=u.account_id, partner=account.name if account else "",
                        has_api_key=u.api_key_hash is not None)

    @staticmethod
    def _group_view(s: Session, g: PartnerGroup) -> GroupView:
        members = []
        for m in g.members:
            account = s.get(PartnerAccount, m.account_id)
            rep = s.get(PartnerUser, m.user_id) if m.user_id is not None else None
            members.append(MemberView(position=m.position, partner_id=m.account_id,
                                      partner=account.name if account else "", rep_id=m.user_id,
                                      rep=rep.email if rep else None))
        return GroupView(id=g.id, name=g.name, description=g.description, distribution_model=g.distribution_model,
                         criteria=dict(g.criteria or {}), members=members)

    @staticmethod
    def _named_view(s: Session, a: Account) -> NamedAccountView:
        partner = s.get(PartnerAccount, a.partner_account_id) if a.partner_account_id is not None else None
        rep = s.get(PartnerUser, a.named_rep_id) if a.named_rep_id is not None else None
        return NamedAccountView(id=a.id, name=a.name, named=a.named, partner_id=a.partner_account_id,
                                partner=partner.name if partner else None, rep_id=a.named_rep_id,
                                rep=rep.email if rep else None)
