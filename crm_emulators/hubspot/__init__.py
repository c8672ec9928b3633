"""A stateful local HubSpot (CRM v3 objects, search, batch, v4 associations, OAuth, rate limits, faults).

The real `hubspot-api-client` talks to it unchanged: `HubSpot(access_token=..., host=running.base_url)`.

    with serve_in_background(EmulatorOptions(portals=2)) as running:
        running.credentials["portals"][1]["refresh_token"]
"""

from .emulator import CallResult, EmulatorOptions, HubSpotEmulator
from .serving import RunningEmulator, serve_in_background

__all__ = ["CallResult", "EmulatorOptions", "HubSpotEmulator", "RunningEmulator", "serve_in_background"]
