"""The local CRM emulators a daemon starts in-process (`emulators:` in the config): the daemon's
out-of-the-box demo and an admin's rehearsal ground. Emulators are found through the
`upm_connector.emulators` entry-point group; each writes its credentials where connections with
`auth: {type: emulator}` (and CLI commands run beside the daemon) find them."""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from connector.auth.oauth import emulator_credentials_path
from connector.config.settings import Settings
from connector.extras import require
from connector.store.database import Database
from connector.store.tokens import OAuthToken

log = logging.getLogger(__name__)
EMULATOR_GROUP = "upm_connector.emulators"


def installed_emulators() -> dict[str, Any]:
    """Every installed emulator plugin by name (an object with `serve(seed, state_dir, port)` and `command()`)."""
    return {ep.name: ep.load() for ep in entry_points(group=EMULATOR_GROUP)}


def emulator_plugin(name: str) -> Any:
    """The emulator registered under `name`; LookupError naming the installed ones otherwise."""
    for ep in entry_points(group=EMULATOR_GROUP):
        if ep.name == name:
            require("trustme", "emulators", f"the local {name} emulator")
            return ep.load()
    known = sorted(ep.name for ep in entry_points(group=EMULATOR_GROUP))
    raise LookupError(f"no emulator named '{name}' (installed: {', '.join(known) or 'none'})")


def start_local_emulators(settings: Settings, stack: ExitStack) -> list[str]:
    """Start the enabled emulators inside `stack`; returns the names of those started."""
    started = []
    state_dir = settings.resolve_path(settings.emulators.state_dir)
    for name, local in settings.emulators.enabled().items():
        plugin = emulator_plugin(name)
        seed = settings.resolve_path(local.seed_file) if local.seed_file else None
        running = stack.enter_context(plugin.serve(seed, state_dir / name, local.port))
        _write(emulator_credentials_path(settings, name), running.credentials)
        started.append(name)
        log.info("local CRM emulator %s serving at %s", name, running.base_url)
    return started


def forget_previous_tokens(settings: Settings, db: Database, started: list[str]) -> list[str]:
    """Drop the stored tokens (and instance URLs) of the connections on these freshly started
    emulators: a previous run's emulators issued them, and each run's emulators start afresh on new
    ports with new credentials, so each such connection authorizes again from the new credentials
    file. Returns the connections whose tokens were dropped."""
    names = [name for name, conn in settings.connections.items()
             if conn.auth.type == "emulator" and conn.auth.file is None and conn.adapter in started]
    if not names:
        return []
    with db.session() as session:
        dropped = list(session.scalars(delete(OAuthToken).where(OAuthToken.connection.in_(names))
                                       .returning(OAuthToken.connection)))
    if dropped:
        log.info("tokens from the previous run's local emulators dropped", extra={"connections": dropped})
    return dropped


def _write(path: Path, credentials: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(credentials, indent=2), encoding="utf-8")
