"""Serving the emulator over HTTPS: in a background thread (tests, benchmarks) and the credentials a client
needs to connect."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..runner import BackgroundServer
from .app import create_app
from .emulator import EmulatorOptions, SalesforceEmulator
from ..core.tls import DEFAULT_HOSTS, TLSMaterial, ensure_tls_files


def connect_host(host: str) -> str:
    """The host clients should use for a listening address (a wildcard means this machine)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def credentials(emulator: SalesforceEmulator, tls: TLSMaterial) -> dict[str, str]:
    """Everything a client needs: instance_url, token_url, client_id, client_secret, refresh_token, ca_file."""
    return {
        "instance_url": emulator.instance_url,
        "token_url": f"{emulator.instance_url}/services/oauth2/token",
        "client_id": emulator.oauth.client_id,
        "client_secret": emulator.oauth.client_secret,
        "refresh_token": emulator.refresh_token,
        "ca_file": str(tls.ca_file),
    }


def write_credentials(path: Path, values: dict[str, str]) -> None:
    """Write the credentials JSON, readable by its owner only (it holds a refresh token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")


@dataclass
class RunningEmulator:
    """A Salesforce emulator serving HTTPS in the background."""

    emulator: SalesforceEmulator
    server: BackgroundServer
    tls: TLSMaterial
    state_dir: Path
    credentials: dict[str, str]

    @property
    def base_url(self) -> str:
        """`https://127.0.0.1:PORT`, the instance URL."""
        return self.emulator.instance_url

    @property
    def port(self) -> int:
        """The port served."""
        return self.server.port


@contextmanager
def serve_in_background(
    options: EmulatorOptions | None = None,
    state_dir: Path | str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[RunningEmulator]:
    """Serve a fresh emulator over HTTPS until the block ends (port 0: any free port).

    The TLS files and `credentials.json` go to `state_dir` (a temporary directory, removed afterwards, when
    None).
    """
    own_dir = state_dir is None
    directory = Path(tempfile.mkdtemp(prefix="upm-sf-emulator-")) if state_dir is None else Path(state_dir)
    try:
        tls = ensure_tls_files(directory, (*DEFAULT_HOSTS, connect_host(host)))
        emulator = SalesforceEmulator(options)
        server = BackgroundServer(create_app(emulator), host, port, tls=tls.server_files())
        # Work around runner.BackgroundServer.stop() waiting up to 10 s when a client keeps an idle TLS
        # keep-alive connection open (uvicorn waits for the TLS close): the app has no lifespan events, so
        # serve without them and stop without waiting for open connections (see the finally below).
        server._server.config.lifespan = "off"
        emulator.instance_url = f"https://{connect_host(host)}:{server.port}"
        values = credentials(emulator, tls)
        write_credentials(directory / "credentials.json", values)
        with server:
            try:
                yield RunningEmulator(emulator, server, tls, directory, values)
            finally:
                server._server.force_exit = True
    finally:
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)
