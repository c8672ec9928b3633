"""Partner connections held in the datastore: add, list, show, remove, enable and disable a
partner's own CRM (the CLI's `connections` and the API's /api/v1/connections). Each is checked
before it is stored: an installed adapter, a profile that loads, an active partner, a name no
config or stored connection has; a refusal names the field and the value. The daemon picks the
change up within `daemon.connections_poll_seconds` (its lanes start and stop); the Runtime the
service is given routes the outbox to it at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from connector.adapters.base import adapter_class, installed_adapters
from connector.mapping.loader import ProfileError, load_profile
from connector.runtime import Runtime, connection_settings
from connector.services.directory import InvalidField, UnknownRecord
from connector.store.ids import as_id
from connector.store.partner_connections import PartnerConnection
from connector.store.partners import PartnerAccount


class ConnectionSpec(BaseModel):
    """A partner connection to add. `auth`: `{type: ..., ...}` with secret references
    (`${ENV}`, `file:...`), never a secret; OAuth tokens come from `connections authorize`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    partner: str | int
    """The partner account's name or id."""
    adapter: str
    profile: str
    """A shipped profile (`mappings/hubspot/partner.yaml`) or a profile file's path."""
    schedule: str | float = "5m"
    """How often its lane runs: a duration (`30s`, `1m`) or a cron line (five fields)."""
    instance_url: str | None = None
    auth: dict[str, Any] = Field(default_factory=lambda: {"type": "oauth"})
    options: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class ConnectionEdit(BaseModel):
    """Changes to a stored partner connection: each field given replaces the stored one (`options`
    as a whole); checked as when it was added."""

    model_config = ConfigDict(extra="forbid")

    profile: str | None = None
    schedule: str | float | None = None
    instance_url: str | None = None
    auth: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    enabled: bool | None = None


class ConnectionView(BaseModel):
    id: int
    name: str
    partner_id: int
    partner: str
    adapter: str
    profile: str
    schedule: dict[str, Any]
    instance_url: str | None
    auth_type: str
    options: dict[str, Any]
    enabled: bool


class ConnectionService:
    """The stored partner connections of one Runtime's datastore."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.db = runtime.db

    def add(self, spec: ConnectionSpec) -> ConnectionView:
        if spec.name in self.runtime.configured:
            raise InvalidField("name", spec.name, "is a connection in the config file")
        if spec.adapter not in installed_adapters():
            raise InvalidField("adapter", spec.adapter, f"is not an installed adapter (installed: {', '.join(installed_adapters())})")
        profile = self._profile(spec.profile, spec.adapter)
        with self.db.session() as s:
            if s.scalar(select(PartnerConnection.id).where(PartnerConnection.name == spec.name)) is not None:
                raise InvalidField("name", spec.name, "is taken by another partner connection")
            account = self._account(s, spec.partner)
            row = PartnerConnection(name=spec.name, partner_account_id=account.id, adapter=spec.adapter, profile=profile,
                                    schedule=_schedule(spec.schedule), instance_url=spec.instance_url, auth=spec.auth,
                                    options=spec.options, enabled=spec.enabled)
            _check(row, account)
            s.add(row)
            s.flush()
            view = self._view(row, account)
        self.runtime.refresh_connections()
        return view

    def connections(self, partners: set[int] | None = None) -> list[ConnectionView]:
        """Every stored connection, or those of `partners` (ids)."""
        with self.db.session() as s:
            query = (select(PartnerConnection, PartnerAccount)
                     .join(PartnerAccount, PartnerAccount.id == PartnerConnection.partner_account_id)
                     .order_by(PartnerConnection.id))
            if partners is not None:
                query = query.where(PartnerConnection.partner_account_id.in_(partners))
            return [self._view(row, account) for row, account in s.execute(query)]

    def connection(self, name: str, partners: set[int] | None = None) -> ConnectionView:
        """One stored connection (UnknownRecord when missing or not among `partners`)."""
        for view in self.connections(partners):
            if view.name == name:
                return view
        raise UnknownRecord(f"no partner connection '{name}'")

    def remove(self, name: str, partners: set[int] | None = None) -> ConnectionView:
        view = self.connection(name, partners)
        with self.db.session() as s:
            row = s.get(PartnerConnection, view.id)
            if row is not None:
                s.delete(row)
        self.runtime.refresh_connections()
        return view

    def edit(self, name: str, changes: ConnectionEdit, partners: set[int] | None = None) -> ConnectionView:
        """Change a stored connection (its adapter options, profile, schedule, auth, URL, enabled),
        refused with the same errors as `add`; a running daemon's lane follows within
        `daemon.connections_poll_seconds` (restarted when the schedule changed)."""
        view = self.connection(name, partners)
        given = changes.model_dump(exclude_unset=True)
        for key in ("profile", "schedule", "auth", "options", "enabled"):
            if key in given and given[key] is None:
                raise InvalidField(key, None, "cannot be empty")
        with self.db.session() as s:
            row = s.get(PartnerConnection, view.id)
            account = s.get(PartnerAccount, view.partner_id)
            if row is None or account is None:
                raise UnknownRecord(f"no partner connection '{name}'")
            if "profile" in given:
                row.profile = self._profile(given["profile"], row.adapter)
            if "schedule" in given:
                row.schedule = _schedule(given["schedule"])
            for key in ("instance_url", "auth", "options", "enabled"):
                if key in given:
                    setattr(row, key, given[key])
            _check(row, account)
            s.flush()
            view = self._view(row, account)
        self.runtime.refresh_connections()
        return view

    def set_enabled(self, name: str, enabled: bool, partners: set[int] | None = None) -> ConnectionView:
        view = self.connection(name, partners)
        with self.db.session() as s:
            row = s.get(PartnerConnection, view.id)
            if row is not None:
                row.enabled = enabled
        self.runtime.refresh_connections()
        return view.model_copy(update={"enabled": enabled})

    def _profile(self, profile: str, adapter: str) -> str:
        """The profile as stored: a shipped one as named, a file by its absolute path; it must load
        and be for the connection's adapter."""
        path = Path(profile)
        resolved = self.runtime.settings.resolve_mapping(path)
        if not resolved.is_file():
            raise InvalidField("profile", profile, "is neither a shipped profile nor a file")
        try:
            loaded = load_profile(resolved)
        except ProfileError as exc:
            raise InvalidField("profile", profile, f"does not load: {exc.problems[0]}") from None
        if loaded.profile.crm != adapter:
            raise InvalidField("profile", profile, f"is a profile for '{loaded.profile.crm}', not '{adapter}'")
        beside = self.runtime.settings.resolve_path(path)
        return str(beside.resolve()) if beside.is_file() else profile

    @staticmethod
    def _account(s: Any, ref: str | int) -> PartnerAccount:
        number = as_id(ref)
        account = (s.get(PartnerAccount, number) if number is not None else
                   s.scalars(select(PartnerAccount).where(PartnerAccount.name == ref).order_by(PartnerAccount.id)).first())
        if account is None:
            raise InvalidField("partner", ref, "is not a partner account")
        if not account.active:
            raise InvalidField("partner", ref, "is not active")
        return account

    @staticmethod
    def _view(row: PartnerConnection, account: PartnerAccount) -> ConnectionView:
        return ConnectionView(id=row.id, name=row.name, partner_id=account.id, partner=account.name, adapter=row.adapter,
                              profile=row.profile, schedule=dict(row.schedule), instance_url=row.instance_url,
                              auth_type=str(row.auth.get("type", "")), options=dict(row.options), enabled=row.enabled)


def _schedule(schedule: str | float) -> dict[str, Any]:
    """A schedule as stored: a cron line (five fields) or a duration."""
    return {"cron": schedule} if isinstance(schedule, str) and len(schedule.split()) == 5 else {"every": schedule}


def _check(row: PartnerConnection, account: PartnerAccount) -> None:
    """The row must make valid connection settings (schedule, auth, options): InvalidField naming
    the field and value otherwise."""
    try:
        adapter_class(row.adapter).check_options(row.options)
    except ValueError as exc:
        raise InvalidField("options", row.options, str(exc), message=str(exc)) from None
    try:
        connection_settings(row, account.name)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "auth"
        field = {"mapping": "profile"}.get(field, field)
        raise InvalidField(field, error.get("input"), error["msg"],
                           message=error["msg"].removeprefix("Value error, ")) from None
