"""Running the HubSpot emulator on a local port from a background thread (tests, benchmarks)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from ..runner import BackgroundServer
from .app import create_app
from .emulator import EmulatorOptions, HubSpotEmulator


@dataclass
class RunningEmulator:
    """A served emulator: its state, its URL and the credentials a connector needs."""

    emulator: HubSpotEmulator
    server: BackgroundServer

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def credentials(self) -> dict[str, Any]:
        return self.emulator.credentials(self.base_url)


@contextmanager
def serve_in_background(options: EmulatorOptions | None = None, port: int = 0, host: str = "127.0.0.1") -> Iterator[RunningEmulator]:
    """Serve a fresh emulator on `host:port` (0 picks a free port) until the block ends."""
    emulator = HubSpotEmulator(options)
    with BackgroundServer(create_app(emulator), host=host, port=port) as server:
        yield RunningEmulator(emulator, server)
