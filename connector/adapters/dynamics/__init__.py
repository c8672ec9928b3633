"""The Microsoft Dynamics 365 (Dataverse) adapter: the Web API v9.2 over requests (OData queries
paged by `@odata.nextLink`, change tracking, alternate-key upserts in `$batch`), OAuth client
credentials through msal or the shared OAuth flow."""

from .adapter import DynamicsAdapter
from .tokens import ClientCredentials

__all__ = ["ClientCredentials", "DynamicsAdapter"]
