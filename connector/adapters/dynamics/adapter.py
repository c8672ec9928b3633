"""DynamicsAdapter: the CrmAdapter contract over the Dataverse Web API v9.2."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from connector.adapters.base import (
    ApiUsage,
    CrmAdapter,
    CrmRecord,
    DeletedRecords,
    FatalError,
    FieldInfo,
    ObjectDescription,
    TokenDeletes,
    Tokens,
    WriteResult,
)
from connector.clock import Clock

from .client import DataverseClient
from .reads import DeltaPage, Reader
from .settings import BATCH_LIMIT, ENTITY_SETS, MODIFIED, AdapterOptions
from .tokens import ClientCredentials, authority_of
from .writes import Writer

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class DynamicsAdapter(CrmAdapter):
    """One connection to one Dataverse environment (Dynamics 365 Sales).

    Objects are tables by logical name (lead, account, contact, opportunity, annotation); the external
    id is an alternate key column. Deletes come from change tracking (`deletes_by_token`: the token
    is the feed's delta link). Beyond the contract: `read_delta`, the change-tracking feed itself.
    """

    options_class = AdapterOptions

    name: ClassVar[str] = "dynamics"
    max_upsert_batch: ClassVar[int] = BATCH_LIMIT
    stamp_resolution: ClassVar[timedelta] = timedelta(seconds=1)
    deletes_by_token: ClassVar[bool] = True

    def __init__(self, connection: str, tokens: Tokens, *, base_url: str, clock: Clock,
                 sleep: Callable[[float], None] = time.sleep, options: Mapping[str, Any] = {}, ca_file: str | None = None):
        self.connection = connection
        self.clock = clock
        self.options = AdapterOptions.parse(options)
        if isinstance(tokens, ClientCredentials):
            tokens.attach(base_url, ca_file)
        self.client = DataverseClient(tokens, base_url, clock, sleep, self.options, ca_file)
        self._reader = Reader(self.client, self.options.page_size)
        self._writer = Writer(self.client, self.options.batch_size)
        self._tables: dict[str, tuple[str, str]] = {}

    @classmethod
    def open(cls, connection: str, tokens: Tokens, *, endpoint: str | None, ca_file: str | None, clock: Clock,
             sleep: Callable[[float], None], options: Mapping[str, Any]) -> DynamicsAdapter:
        """`endpoint` is the environment URL (https://ORG.crm.dynamics.com): there is no public default."""
        if not endpoint:
            raise ValueError(f"connection '{connection}': a Dynamics connection needs instance_url (https://ORG.crm.dynamics.com)")
        return cls(connection, tokens, base_url=endpoint, clock=clock, sleep=sleep, options=options, ca_file=ca_file)

    auth_variants: ClassVar[Mapping[str, tuple[str, ...]]] = {"client_credentials": ("client_id", "client_secret", "token_url")}
    """An app registration's own token (OAuth client credentials through msal): `token_url` is the
    tenant's `https://login.microsoftonline.com/TENANT/oauth2/v2.0/token`; `scope` defaults to
    `{instance_url}/.default`."""

    @classmethod
    def static_tokens(cls, auth: Any) -> Tokens | None:
        if auth.type != "client_credentials":
            return None
        return ClientCredentials(auth.client_id, auth.client_secret.get(), authority_of(auth.token_url),
                                 scopes=list(auth.scope) or None)

    def __repr__(self) -> str:
        return f"DynamicsAdapter({self.connection!r})"

    def _table(self, obj: str) -> tuple[str, str]:
        """(entity set, primary id column) of the table `obj`."""
        if obj not in self._tables:
            if obj in ENTITY_SETS:
                self._tables[obj] = (ENTITY_SETS[obj], f"{obj}id")
            else:
                definition = self._definition(obj)
                self._tables[obj] = (definition["EntitySetName"], definition["PrimaryIdAttribute"])
        return self._tables[obj]

    def _definition(self, obj: str) -> dict[str, Any]:
        url = self.client.url(f"EntityDefinitions(LogicalName='{obj}')")
        body: dict[str, Any] = self.client.request("GET", url, params={"$expand": "Attributes,Keys"}).json()
        return body

    def describe(self, obj: str) -> ObjectDescription:
        definition = self._definition(obj)
        self._tables[obj] = (definition["EntitySetName"], definition["PrimaryIdAttribute"])
        keys = {name for key in definition.get("Keys") or [] for name in key.get("KeyAttributes") or []}
        fields = {
            a["LogicalName"]: FieldInfo(
                name=a["LogicalName"], type=a["AttributeType"], external_id=a["LogicalName"] in keys,
                unique=a["LogicalName"] in keys or a["LogicalName"] == definition["PrimaryIdAttribute"],
                updateable=bool(a.get("IsValidForUpdate")), nillable=(a.get("RequiredLevel") or {}).get("Value") == "None",
                label=((a.get("DisplayName") or {}).get("UserLocalizedLabel") or {}).get("Label"),
            )
            for a in definition.get("Attributes") or []
        }
        return ObjectDescription(name=obj, fields=fields, modified_field=MODIFIED)

    def read_changes(self, obj: str, since: datetime | None, fields: Sequence[str], *,
                     lookback_seconds: float = 0) -> Iterator[list[CrmRecord]]:
        entity_set, primary_id = self._table(obj)
        anchor = None if since is None else _utc(since) - timedelta(seconds=lookback_seconds)
        return self._reader.changes(entity_set, primary_id, anchor, fields)

    def fetch(self, obj: str, crm_id: str, fields: Sequence[str]) -> CrmRecord | None:
        """One row by its GUID in one call; an id that is no GUID names no row (None, no call)."""
        if not _GUID.fullmatch(crm_id):
            return None
        entity_set, primary_id = self._table(obj)
        return self._reader.one(entity_set, primary_id, crm_id.lower(), fields)

    def read_delta(self, obj: str, fields: Sequence[str], delta_link: str | None = None) -> Iterator[DeltaPage]:
        """Change tracking (`Prefer: odata.track-changes`): with no link every row, then a delta link;
        with one, the rows changed and the ids removed since it, and the next link on the last page."""
        entity_set, primary_id = self._table(obj)
        return self._reader.delta(entity_set, primary_id, fields, delta_link)

    def read_deleted(self, obj: str, since: datetime) -> DeletedRecords:
        """Dataverse's deletes are addressed by delta link, not by instant: see `read_deleted_by_token`."""
        raise FatalError("Dynamics reads deletes by change-tracking delta link (read_deleted_by_token), not by instant")

    def read_deleted_by_token(self, obj: str, token: str | None) -> TokenDeletes:
        """The `$deletedEntity` rows of the change-tracking feed since the delta link `token` (the
        changed rows it also carries are left to `read_changes`), and the feed's next delta link.
        With no token, the initial feed of ids only (ceil(rows/page size) calls): no ids, its delta
        link. A link past the table's change-tracking retention raises NeedsFullResync. The token is
        the link relative to the Web API root, so it follows the connection's `instance_url`."""
        entity_set, primary_id = self._table(obj)
        removed: list[str] = []
        link: str | None = None
        for page in self._reader.delta(entity_set, primary_id, [], None if token is None else self.client.url(token)):
            removed += page.removed
            link = page.delta_link or link
        root = self.client.url("")
        if link is None or not link.startswith(root):
            raise FatalError(f"Dataverse's change-tracking feed of {entity_set} gave no delta link under {root}: {link}")
        return TokenDeletes(ids=removed if token is not None else [], next_token=link[len(root):])

    def upsert(self, obj: str, external_id_field: str, records: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        if len(records) > self.max_upsert_batch:
            raise ValueError(f"Dynamics upserts at most {self.max_upsert_batch} records a call, got {len(records)}")
        entity_set, primary_id = self._table(obj)
        return self._writer.upsert(obj, entity_set, primary_id, external_id_field, records)

    def update(self, obj: str, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        if len(records) > self.max_upsert_batch:
            raise ValueError(f"Dynamics updates at most {self.max_upsert_batch} records a call, got {len(records)}")
        entity_set, primary_id = self._table(obj)
        return self._writer.update(obj, entity_set, primary_id, records)

    def delete(self, obj: str, ids: Sequence[str]) -> list[WriteResult]:
        entity_set, primary_id = self._table(obj)
        return self._writer.delete(entity_set, primary_id, ids)

    def api_usage(self) -> ApiUsage:
        """Dataverse has no daily allocation to report (its limits are per 5 minutes): calls made only."""
        return ApiUsage(used=None, limit=None, calls_made=self.client.calls, window="5m",
                        details={"refreshes": self.client.refreshes, "unauthorized": self.client.unauthorized})

    def close(self) -> None:
        self.client.close()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise FatalError("a naive datetime reached the Dynamics adapter")
    return moment.astimezone(timezone.utc)
