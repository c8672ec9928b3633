"""The local CRM emulators a daemon starts in-process (`emulators:` in the config): the daemon's
out-of-the-box demo and an admin's rehearsal ground. Each writes its credentials where connections
with `auth: {type: emulator}` (and CLI commands run beside the daemon) find them."""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from pathlib import Path

from connector.auth.oauth import emulator_credentials_path
from connector.config.settings import Settings

log = logging.getLogger(__name__)
SEEDS = Path(__file__).resolve().parents[1] / "emulators" / "seeds"


def start_local_emulators(settings: Settings, stack: ExitStack) -> list[str]:
    """Start the enabled emulators inside `stack`; returns their base URLs."""
    urls = []
    state_dir = settings.resolve_path(settings.emulators.state_dir)
    if settings.emulators.salesforce.enabled:
        from connector.emulators.salesforce import EmulatorOptions as SalesforceOptions
        from connector.emulators.salesforce import serve_in_background as serve_salesforce

        local = settings.emulators.salesforce
        seed = settings.resolve_path(local.seed_file) if local.seed_file else SEEDS / "salesforce.json"
        running = stack.enter_context(serve_salesforce(SalesforceOptions(seed_file=seed), state_dir=state_dir / "salesforce", port=local.port))
        _write(emulator_credentials_path(settings, "salesforce"), running.credentials)
        urls.append(running.base_url)
    if settings.emulators.hubspot.enabled:
        from connector.emulators.hubspot import EmulatorOptions as HubSpotOptions
        from connector.emulators.hubspot import serve_in_background as serve_hubspot

        local = settings.emulators.hubspot
        seed = settings.resolve_path(local.seed_file) if local.seed_file else SEEDS / "hubspot.json"
        running = stack.enter_context(serve_hubspot(HubSpotOptions(seed_file=seed), port=local.port))
        _write(emulator_credentials_path(settings, "hubspot"), running.credentials)
        urls.append(running.base_url)
    for url in urls:
        log.info("local CRM emulator serving at %s", url)
    return urls


def _write(path: Path, credentials: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(credentials, indent=2), encoding="utf-8")
