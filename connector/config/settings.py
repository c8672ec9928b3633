"""The typed settings the daemon runs on. Every section has working defaults (embedded SQLite,
local bind, a generated key file), so an empty or absent config file is a valid one."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connector.adapters.base import adapter_class, installed_adapters
from connector.config.secrets import Secret

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a duration; write e.g. 30s, 5m, 2h, 1d or a number of seconds")
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(_parse_duration), Field(ge=0)]
"""A duration in seconds; the YAML may say `90`, `30s`, `5m`, `2h` or `1d`."""


class Section(BaseModel):
    """A config section: unknown keys are errors (a misspelt key must never be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpSettings(Section):
    bind: str = "127.0.0.1:8080"
    """host:port for the HTTP API (health, Assign-to-Partner). Env: UPM_HTTP_BIND."""
    api_keys: dict[str, Secret] = {}
    """Vendor-side callers of the lead API (the CRM's Assign-to-Partner button, admin scripts), by
    name, each key a secret reference. Partner users call with keys of their own (`api-key issue`)."""

    @field_validator("bind")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"'{value}' is not host:port (e.g. 0.0.0.0:8080)")
        return value

    @property
    def host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.bind.rpartition(":")[2])


class SecretsSettings(Section):
    """Where the key that encrypts tokens at rest comes from."""

    key: Secret | None = None
    """Fernet key(s) as a reference; several comma-separated keys: the first encrypts, all decrypt."""
    key_file: Path = Path("upm-secrets.key")
    """Used when `key` is not set; generated (mode 0600) on first run if missing."""


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class DaemonSettings(Section):
    instance_id: str | None = None
    """Names this daemon in lease rows; default hostname:pid."""
    lease_seconds: Seconds = 60.0
    """A lane's lease lasts this long unless renewed; a dead daemon's lanes are free after it."""
    misfire_grace_seconds: Seconds = 30.0
    ready_unless: list[Literal["NEEDS_AUTH", "NEEDS_FULL_RESYNC", "PAUSED_QUOTA", "FAILING", "SYNCING", "DISABLED"]] = [
        "NEEDS_AUTH", "FAILING"]
    """`/readyz` answers 503 while any lane is in one of these states (the database being down always
    does). Lane states are the datastore's, so every replica turns not ready together: list only the
    states that should page someone; `[]` makes readiness the process and the database alone."""
    connections_poll_seconds: Seconds = 5.0
    """How often the daemon reads the stored partner connections and starts or stops their lanes."""
    watchdog_seconds: Seconds | None = None
    """How often the scheduler tells systemd it is alive; default half of the unit's WatchdogSec."""
    state_dir: Path | None = None
    """Where the connector keeps files of its own (each connection's cached CRM describe); default
    systemd's `$STATE_DIRECTORY`, else `.upm-state` beside the config."""


class ScheduleSettings(Section):
    """When a job runs: `every` (a duration) or `cron` (five fields), not both."""

    every: Seconds | None = None
    cron: str | None = None
    jitter_seconds: Seconds = 0.0

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleSettings:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' or 'cron'")
        if self.every is not None and self.every <= 0:
            raise ValueError("'every' must be more than zero")
        if self.cron is not None:
            try:
                CronTrigger.from_crontab(self.cron)
            except ValueError as exc:
                raise ValueError(f"cron '{self.cron}': {exc}") from None
        return self


class DatabaseSettings(Section):
    url: str = "sqlite:///upm-connector.db"
    """SQLAlchemy URL. `postgresql://` uses psycopg 3. Env: UPM_DATABASE_URL."""
    checkpoint_schedule: ScheduleSettings = ScheduleSettings(every=5)
    """SQLite only: how often the `store:checkpoint` lane folds the write-ahead log into the
    database file, so that commits never do it themselves."""

    @field_validator("url")
    @classmethod
    def _parseable(cls, value: str) -> str:
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError(f"'{value}' is not a database URL (e.g. sqlite:///upm.db, postgresql://host/db)") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"database backend '{backend}' is not supported; use sqlite or postgresql")
        return value


SHARED_AUTH_TYPES: dict[str, tuple[str, ...]] = {
    "oauth": ("client_id", "client_secret", "token_url"),
    "credentials_file": ("file",),
    "emulator": (),
}
"""The auth types every adapter takes (all through OAuth), with the fields each needs."""


class AuthSettings(Section):
    """How a connection authenticates.

    - `oauth`: client id/secret and the token URL; the refresh token comes from `auth login` (stored
      encrypted) or from `refresh_token` here.
    - `credentials_file`: the JSON an emulator writes with `--write-credentials` (local rehearsal).
    - `emulator`: the local emulator of the connection's adapter that this daemon starts (see the
      `emulators` section): no credentials at all.
    - any other type an adapter offers itself (its `auth_variants`, e.g. a static `token`).
    """

    type: str
    client_id: str | None = None
    client_secret: Secret | None = None
    refresh_token: Secret | None = None
    token_url: str | None = None
    authorize_url: str | None = None
    """For `auth login`; default: token_url with its last segment `token` -> `authorize` (Salesforce)."""
    redirect_uri: str = "http://127.0.0.1:8765/callback"
    scope: list[str] = Field(default_factory=list)
    token: Secret | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _fields_for_type(self) -> AuthSettings:
        self.require(SHARED_AUTH_TYPES.get(self.type, ()))
        return self

    def require(self, needed: tuple[str, ...]) -> None:
        """Raise naming the fields of `needed` this auth leaves unset."""
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth type '{self.type}' needs {', '.join(missing)}")


class ConnectionSettings(Section):
    """One CRM connection: a vendor's CRM, or a partner's own CRM (workflow 5)."""

    adapter: str
    """Adapter name from the `upm_connector.adapters` entry points (checked by `config check`)."""
    enabled: bool = True
    role: Literal["vendor", "partner"] = "vendor"
    partner_account: str | None = None
    """For a partner's CRM (`role: partner`, required there): the name of the partner account the
    connection belongs to. Only that partner's records go out (its leads, accounts, contacts,
    opportunities, registered deals, notes), and what comes back is attributed to it."""
    instance_url: str | None = None
    auth: AuthSettings
    mapping: Path
    """The mapping profile (YAML) this connection syncs with."""
    schedule: ScheduleSettings = ScheduleSettings(every=300)
    options: dict[str, Any] = Field(default_factory=dict)
    """Adapter-specific tuning (page sizes, API version, quota share...)."""

    @model_validator(mode="after")
    def _partner_named(self) -> ConnectionSettings:
        if self.role == "partner" and not self.partner_account:
            raise ValueError("a connection with role 'partner' needs partner_account (the partner account it belongs to)")
        if self.role == "vendor" and self.partner_account:
            raise ValueError("partner_account is for a connection with role 'partner'")
        return self

    @model_validator(mode="after")
    def _auth_offered(self) -> ConnectionSettings:
        """An auth type beyond the shared ones must be one the adapter offers (an unknown adapter is
        left to `config check`, which names the installed ones)."""
        if self.auth.type in SHARED_AUTH_TYPES or self.adapter not in installed_adapters():
            return self
        variants = adapter_class(self.adapter).auth_variants
        if self.auth.type not in variants:
            offered = [*SHARED_AUTH_TYPES, *variants]
            raise ValueError(f"auth.type '{self.auth.type}' is not offered by adapter '{self.adapter}' "
                             f"(it takes: {', '.join(offered)})")
        self.auth.require(variants[self.auth.type])
        return self


class JobSettings(Section):
    """A site-specific job: a Python callable `module:function(context)` run on a schedule."""

    callable: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    schedule: ScheduleSettings
    enabled: bool = True


class LeadSettings(Section):
    """Lead distribution defaults (rules and aging are configured in their own sections later)."""

    fallback: Literal["open_pool", "manual_review"] = "open_pool"
    """Where a lead no rule matches goes: it is never dropped."""
    default_access_type: Literal["Read-Only", "Read-Write"] = "Read-Write"
    shark_tank_window: Seconds = 48 * 3600.0
    segment_sla_days: dict[str, int] = Field(default_factory=lambda: {"SMB": 7, "Mid-Market": 90, "Enterprise": 180})
    sweep_schedule: ScheduleSettings = ScheduleSettings(every=900)
    rules: list[dict[str, Any]] = Field(default_factory=list)
    """Assignment rules, created or updated by name when the daemon starts, e.g.
    `{name: US SMB, priority: 10, countries: [USA], segments: [SMB], target: "group:US resellers",
    model: round_robin, access_type: Read-Write}` (see `upm-connector leads rules add --help`)."""
    review_recipients: list[str] = Field(default_factory=list)
    """Who is emailed about leads sent to manual review, rejections and status changes."""


class DirectorySettings(Section):
    """The partner directory seeded from the config: applied when the daemon starts and by
    `upm-connector directory seed`. Each entry is created when missing (partners and groups by name,
    users by email, named accounts by name); one already there is left as it is (the directory
    commands and the API own it from then on), so applying it twice changes nothing. Keys as `partners add`, `users add`, `groups add` and
    `named-accounts add` take them (see connector/services/directory.py)."""

    partners: list[dict[str, Any]] = Field(default_factory=list)
    """e.g. `{name: Acme Resellers, tier: Gold, countries: [US, CA], parent: Acme Holdings}`."""
    users: list[dict[str, Any]] = Field(default_factory=list)
    """e.g. `{email: rep@acme.example, partner: Acme Resellers, role: sales}`."""
    groups: list[dict[str, Any]] = Field(default_factory=list)
    """e.g. `{name: US resellers, distribution_model: round_robin, members: [Acme Resellers]}`."""
    named_accounts: list[dict[str, Any]] = Field(default_factory=list)
    """e.g. `{name: Initech, partner: Acme Resellers, rep: rep@acme.example}`."""


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    username: str | None = None
    password: Secret | None = None
    timeout_seconds: Seconds = 30.0


class NotificationSettings(Section):
    enabled: bool = False
    from_address: str = "upm-connector@localhost"
    smtp: SmtpSettings = SmtpSettings()
    delivery_schedule: ScheduleSettings = ScheduleSettings(every=60)


class LocalEmulatorSettings(Section):
    enabled: bool = False
    port: int = Field(default=0, ge=0, le=65535)
    """0: any free port."""
    seed_file: Path | None = None
    """Records to start with (JSON, the emulator's seed format); default: the packaged demo seed."""


class EmulatorsSettings(Section):
    """Local CRM emulators the daemon starts in-process (rehearsal and the out-of-the-box demo), one
    key per installed emulator (`salesforce: {enabled: true}`). Connections with
    `auth: {type: emulator}` talk to them. Their data lives in memory."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, LocalEmulatorSettings] = Field(init=False)  # type: ignore[assignment]

    state_dir: Path = Path(".upm-emulators")
    """Where they write their TLS files and credentials (for CLI commands run beside the daemon)."""

    def enabled(self) -> dict[str, LocalEmulatorSettings]:
        """The emulators to start, by name."""
        return {name: local for name, local in (self.__pydantic_extra__ or {}).items() if local.enabled}

    def get(self, name: str) -> LocalEmulatorSettings:
        """One emulator's settings (disabled defaults when the config names none)."""
        return (self.__pydantic_extra__ or {}).get(name, LocalEmulatorSettings())


class SigningSettings(Section):
    """How one CRM connection signs the calls its button or card makes to the pages."""

    scheme: Literal["salesforce", "hubspot"]
    """`salesforce`: HMAC-SHA256 (hex) over method, path with query, timestamp and body, with this
    shared secret (a button's link or a Named Credential); `hubspot`: X-HubSpot-Signature-v3 with
    the HubSpot app's client secret."""
    secret: Secret
    """The shared secret (salesforce) or the app's client secret (hubspot), as a reference."""


class PagesSettings(Section):
    """The Assign to Partner page (opened from the CRM) and the partners' Lead Inbox."""

    base_url: str = "http://127.0.0.1:8080"
    """How browsers reach this server: the links in sign-in emails, and the URL HubSpot signs."""
    signing: dict[str, SigningSettings] = {}
    """Per CRM connection name: how its signed calls are checked. A connection not listed cannot
    open the page."""
    frame_origins: list[str] = []
    """The CRM origins allowed to frame the pages (`Content-Security-Policy: frame-ancestors`),
    e.g. `https://acme.lightning.force.com`, `https://app.hubspot.com`. Empty: no framing at all."""
    secure_cookies: bool = True
    """Session cookies are `Secure`; may be off only when base_url is http://localhost or 127.0.0.1."""
    session_seconds: Seconds = 30 * 60.0
    """How long a page session lasts (a CRM user's after the signed link, a partner's after sign-in)."""
    sign_in_link_seconds: Seconds = 15 * 60.0
    """How long an emailed sign-in link can be used (once)."""
    signature_window_seconds: Seconds = 300.0
    """A signed call's timestamp may be this far off our clock either way."""

    @model_validator(mode="after")
    def _secure_unless_local(self) -> PagesSettings:
        if not self.secure_cookies and not re.match(r"^http://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(/|$)", self.base_url):
            raise ValueError("secure_cookies may be off only when base_url is http://localhost (or 127.0.0.1)")
        return self


class Settings(Section):
    """The whole configuration."""

    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    secrets: SecretsSettings = SecretsSettings()
    logging: LoggingSettings = LoggingSettings()
    daemon: DaemonSettings = DaemonSettings()
    connections: dict[str, ConnectionSettings] = Field(default_factory=dict)
    jobs: dict[str, JobSettings] = Field(default_factory=dict)
    leads: LeadSettings = LeadSettings()
    directory: DirectorySettings = DirectorySettings()
    notifications: NotificationSettings = NotificationSettings()
    emulators: EmulatorsSettings = EmulatorsSettings()
    pages: PagesSettings = PagesSettings()

    _source: Path | None = PrivateAttr(default=None)
    _locations: dict[tuple[str | int, ...], str] = PrivateAttr(default_factory=dict)

    def locate(self, *path: str | int) -> str:
        """Where a key was written ("config.yaml:12"), for messages about what it references."""
        for n in range(len(path), -1, -1):
            if path[:n] in self._locations:
                return self._locations[path[:n]]
        return str(self._source) if self._source else "(embedded defaults)"

    def resolve_path(self, path: Path) -> Path:
        """A path from the config, relative to the config file's folder."""
        if path.is_absolute() or self._source is None:
            return path
        return self._source.resolve().parent / path

    def resolve_mapping(self, path: Path) -> Path:
        """A mapping profile's path: beside the config (as `resolve_path`) when that file exists, else
        the profile shipped in the package when the path names one (`mappings/CRM/NAME.yaml`), so the
        embedded defaults work from any folder. Neither: the path beside the config (errors name it)."""
        beside = self.resolve_path(path)
        if beside.is_file() or path.is_absolute() or path.parts[:1] != ("mappings",):
            return beside
        shipped = Path(str(files("connector"))).joinpath(*path.parts)
        return shipped if shipped.is_file() else beside

    @property
    def source(self) -> Path | None:
        """The file these settings were read from (None: embedded defaults)."""
        return self._source
