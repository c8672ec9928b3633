"""A local Microsoft Dataverse (Dynamics 365) environment: the Web API v9.2 (OData queries, paging by
`@odata.nextLink`, change tracking with delta links, alternate-key upserts, `$batch`, service
protection limits, Dataverse's error JSON) and the tenant's Entra ID token endpoint, over HTTPS."""

from .emulator import DynamicsEmulator, EmulatorOptions
from .serving import RunningEmulator, serve_in_background

__all__ = ["DynamicsEmulator", "EmulatorOptions", "RunningEmulator", "serve_in_background"]
