"""The adapter contract every CRM adapter implements.

What crosses this boundary is CRM-neutral: records are `CrmRecord` (an id, a timezone-aware UTC
modified stamp, and the CRM's field values), writes come back as one `WriteResult` per record, and
failures leave as one of the `AdapterError` kinds below. Nothing past an adapter sees a CRM's date
format, paging scheme or error shape.

Errors, by what the caller should do:
- `RetriableError`: try again later (429, 5xx, timeouts, UNABLE_TO_LOCK_ROW); `retry_after` if known.
- `AuthError`: the token was refused and a refresh did not help (or the grant is gone): the
  connection needs re-authorization; pause its lanes.
- `QuotaError`: the daily allocation is spent (or the guard's share reached): stop the lane until
  `resets_at`; do not sleep for hours.
- `FatalError`: the CRM will never accept this request (malformed query, unknown field).
- `NeedsFullResync`: the CRM's delete log no longer reaches back to the asked start (purged or past
  its retention, or a delete token it refuses as expired): deletes since then can only be found by
  a full reconcile.
- Per-record failures are not exceptions: they are `WriteResult(outcome="failed", ...)` and the rest
  of the batch goes on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from typing import Any, ClassVar, Literal, Protocol

ADAPTER_GROUP = "upm_connector.adapters"


@dataclass(frozen=True)
class TokenSet:
    """Decrypted tokens of one connection. Never log one: its repr hides the tokens."""

    access_token: str | None
    refresh_token: str | None
    instance_url: str | None = None
    expires_at: datetime | None = None
    generation: int = 0
    status: str = "ok"
    status_reason: str | None = None

    def __repr__(self) -> str:
        return f"TokenSet(generation={self.generation}, status={self.status}, expires_at={self.expires_at})"


class Tokens(Protocol):
    """What an adapter needs of credentials (connector.auth.oauth.OAuthClient, or a static token).

    `current()` gives the tokens to use; `refresh(seen_generation)` gets new ones unless another
    thread or daemon already did since `seen_generation` (single-flight), and raises AuthError when
    the grant is gone."""

    def current(self) -> TokenSet: ...

    def refresh(self, seen_generation: int | None) -> TokenSet: ...


class AdapterError(Exception):
    """A classified failure of a CRM call. `code` is the CRM's own error code when it gave one."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class RetriableError(AdapterError):
    """Transient: 429, 5xx, timeouts, lock contention. Safe to retry (every write is an upsert)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AuthError(AdapterError):
    """The CRM refused our credentials even after a refresh: the connection needs re-authorization."""


class QuotaError(AdapterError):
    """The CRM's daily allocation is spent (or our guard's share of it): stop until `resets_at`."""

    def __init__(self, message: str, *, resets_at: datetime | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.resets_at = resets_at


class FatalError(AdapterError):
    """A request the CRM will never accept as sent."""


class NeedsFullResync(AdapterError):
    """The delete log was purged past the asked start (or refused the delete token as expired): only a
    full reconcile finds the deletes since."""


@dataclass(frozen=True)
class FieldInfo:
    """One field of a CRM object, as its describe reports it."""

    name: str
    type: str
    external_id: bool = False
    unique: bool = False
    updateable: bool = True
    nillable: bool = True
    label: str | None = None


@dataclass(frozen=True)
class ObjectDescription:
    """A CRM object: its fields, and which field carries the modified stamp reads are ordered by."""

    name: str
    fields: Mapping[str, FieldInfo]
    modified_field: str

    @property
    def external_id_fields(self) -> list[str]:
        return [f.name for f in self.fields.values() if f.external_id]


@dataclass(frozen=True)
class CrmRecord:
    """A record as read from a CRM. `modified_at` is timezone-aware UTC."""

    id: str
    modified_at: datetime
    fields: Mapping[str, Any]
    modified_by: str | None = None


@dataclass(frozen=True)
class DeletedRecords:
    """Ids deleted since a point. `complete` is False when the CRM's delete log no longer reaches
    back that far: the caller must run a full reconcile to find the rest."""

    ids: list[tuple[str, datetime]]
    complete: bool
    earliest_available: datetime | None = None
    covered_until: datetime | None = None
    """Where the next read should start when the CRM says (Salesforce's latestDateCovered, or the
    unchanged start when the window was too short to ask); None: the caller's own ceiling."""


@dataclass(frozen=True)
class TokenDeletes:
    """Ids deleted since a token the CRM issued, and the token the next read starts from (for CRMs
    whose delete feed is addressed by an opaque token, e.g. Dataverse change tracking's delta link)."""

    ids: list[str]
    next_token: str


Outcome = Literal["created", "updated", "deleted", "failed"]


@dataclass(frozen=True)
class WriteResult:
    """The outcome for one record of a batch write, in the order the records were given."""

    key: str
    outcome: Outcome
    crm_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_fields: tuple[str, ...] = ()
    retriable: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


@dataclass(frozen=True)
class ApiUsage:
    """API calls used against the CRM's allocation, as the CRM last reported it."""

    used: int | None
    limit: int | None
    calls_made: int = 0
    window: str = "day"
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def share(self) -> float | None:
        if self.used is None or not self.limit:
            return None
        return self.used / self.limit


class CrmAdapter(ABC):
    """One connection's access to a CRM.

    Implementations: construct from the connection's settings and a token provider; never hold a
    whole result set in memory; return timestamps as aware UTC; classify every failure.
    """

    name: ClassVar[str]
    max_upsert_batch: ClassVar[int]
    """How many records one `upsert` call may be given; the engine fills batches to this size."""
    stamp_resolution: ClassVar[timedelta] = timedelta(milliseconds=1)
    """The finest step of the CRM's modified stamps as reads can filter them: "changed after T"
    is "changed at or after T + stamp_resolution"."""

    @abstractmethod
    def describe(self, obj: str) -> ObjectDescription:
        """Fields and types of a CRM object, with its external-id fields."""

    @abstractmethod
    def read_changes(
        self, obj: str, since: datetime | None, fields: Sequence[str], *, lookback_seconds: float = 0
    ) -> Iterator[list[CrmRecord]]:
        """Pages of records modified at or after `since - lookback` (all records if `since` is None),
        ordered ascending by modified stamp (ties by id within a page; HubSpot cannot promise ties
        across pages). Records may repeat across calls (`>=` plus lookback), never within one call:
        callers write idempotently."""

    @abstractmethod
    def fetch(self, obj: str, crm_id: str, fields: Sequence[str]) -> CrmRecord | None:
        """One record by its CRM id, in ONE API call, with `fields` (and what `read_changes` always
        adds); None when the CRM has no such live record. For a record someone needs now (a lead
        opened from the CRM before the connector synced it)."""

    @abstractmethod
    def read_deleted(self, obj: str, since: datetime) -> DeletedRecords:
        """Records deleted since `since`, and where the next read should start (`covered_until`).
        Raises NeedsFullResync when the CRM's delete log no longer reaches back to `since`."""

    deletes_by_token: ClassVar[bool] = False
    """The CRM reports deletes against an opaque token it issues, not by instant: the engine keeps
    the token on the cursor and calls `read_deleted_by_token`, never `read_deleted`."""

    def read_deleted_by_token(self, obj: str, token: str | None) -> TokenDeletes:
        """Ids deleted since `token`, and the token to read from next; `token` None: no ids, and the
        token that starts from now. Raises NeedsFullResync when the CRM refuses the token as expired.
        Only for adapters with `deletes_by_token`; the default reads deletes by instant."""
        raise NotImplementedError(f"the {self.name} adapter reads deletes by instant (read_deleted)")

    @abstractmethod
    def upsert(self, obj: str, external_id_field: str, records: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Create or update each record keyed by its `external_id_field` value, one result per record.

        A retried batch creates nothing twice. At most `max_upsert_batch` records per call (more is
        a ValueError). Records that fail transiently (lock contention, a CRM hiccup) are sent again
        inside the call, with backoff; a result says `retriable` only when those tries ran out."""

    @abstractmethod
    def update(self, obj: str, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        """Update records by CRM id (`(crm_id, fields)` pairs), one result per record, in order.

        For records the engine already binds: they may have been created in the CRM and not carry
        our external id yet (the engine writes it with the first update). At most
        `max_upsert_batch` records per call; idempotent like upsert."""

    @abstractmethod
    def delete(self, obj: str, ids: Sequence[str]) -> list[WriteResult]:
        """Delete records by CRM id, one result per id."""

    @abstractmethod
    def api_usage(self) -> ApiUsage:
        """Usage against the CRM's allocation as last reported, and `calls_made`: the API calls this
        adapter made, counted as the CRM counts them (what the engine reports per run)."""

    @classmethod
    @abstractmethod
    def open(
        cls, connection: str, tokens: Tokens, *, endpoint: str | None, ca_file: str | None, clock: Any,
        sleep: Callable[[float], None], options: Mapping[str, Any],
    ) -> CrmAdapter:
        """Build the adapter for a configured connection: `endpoint` is the instance/base URL
        (None: the CRM's public one), `ca_file` a CA bundle for a private TLS endpoint."""

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Raise ValueError, saying why, when `options` are not this adapter's options: they must
        parse as its `options_class` (the default, with none, takes any)."""
        if cls.options_class is None:
            return
        try:
            cls.options_class.parse(options)
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None

    options_class: ClassVar[Any] = None
    """The adapter's options (`settings.AdapterOptions`): a class whose `parse(options)` raises
    TypeError or ValueError for options it does not take."""

    auth_variants: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Auth types this CRM offers beyond the shared OAuth ones, each with the auth fields it needs
    (`static_tokens` turns them into Tokens). The default offers none."""

    @classmethod
    def static_tokens(cls, auth: Any) -> Tokens | None:
        """The Tokens for an auth variant this CRM supplies itself (e.g. HubSpot's private-app
        token), given the connection's auth config; None: the shared OAuth flow applies. The
        default supplies none."""
        return None

    def owner_ids(self, emails: Sequence[str]) -> dict[str, str]:
        """The CRM users (record owners) with these emails: {email: owner id}, lower-cased emails;
        an email no user has is left out. The default knows no owners."""
        return {}

    def close(self) -> None:
        """Release connections. The default does nothing."""


def installed_adapters() -> list[str]:
    """The names in the `upm_connector.adapters` entry points, sorted: the CRMs this install speaks."""
    return sorted(ep.name for ep in entry_points(group=ADAPTER_GROUP))


def adapter_class(name: str) -> type[CrmAdapter]:
    """The adapter registered under `name` in the `upm_connector.adapters` entry points."""
    for ep in entry_points(group=ADAPTER_GROUP):
        if ep.name == name:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, CrmAdapter)):
                raise TypeError(f"entry point {ep.value} for adapter '{name}' is not a CrmAdapter")
            return cls
    raise LookupError(f"no adapter named '{name}' (installed: {', '.join(installed_adapters()) or 'none'})")
