"""The HubSpot adapter: CRM v3 objects through hubspot-api-client (search for changes, batch upsert by
`idProperty`, archived listing for deletes, v4 associations), OAuth or private-app tokens."""

from .adapter import HubSpotAdapter
from .tokens import PrivateAppToken

__all__ = ["HubSpotAdapter", "PrivateAppToken"]
