"""Serving the emulator over HTTPS (msal accepts only https authorities) from a background thread."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..clock import EmulatorClock
from ..core.tls import DEFAULT_HOSTS, ensure_tls_files
from ..runner import BackgroundServer, free_port
from .app import create_app
from .emulator import DynamicsEmulator, EmulatorOptions


@dataclass
class RunningEmulator:
    emulator: DynamicsEmulator
    server: BackgroundServer
    ca_file: Path

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def credentials(self) -> dict[str, Any]:
        return {**self.emulator.credentials(self.base_url), "ca_file": str(self.ca_file)}


@contextmanager
def serve_in_background(options: EmulatorOptions | None = None, state_dir: Path | None = None, port: int = 0,
                        host: str = "127.0.0.1", clock: EmulatorClock | None = None) -> Iterator[RunningEmulator]:
    """Serve a fresh emulator on https://host:port (0: a free port) until the block ends; the test CA
    goes to `state_dir` (a temporary folder when None)."""
    directory = Path(tempfile.mkdtemp(prefix="upm-dataverse-")) if state_dir is None else Path(state_dir)
    try:
        tls = ensure_tls_files(directory, (*DEFAULT_HOSTS, host))
        port = port or free_port(host)
        emulator = DynamicsEmulator(options, clock, resource=f"https://{host}:{port}")
        server = BackgroundServer(create_app(emulator), host, port, tls=tls.server_files())
        server._server.config.lifespan = "off"  # as the Salesforce emulator: stop without waiting on idle TLS clients
        with server:
            try:
                yield RunningEmulator(emulator, server, tls.ca_file)
            finally:
                server._server.force_exit = True
    finally:
        if state_dir is None:
            shutil.rmtree(directory, ignore_errors=True)
