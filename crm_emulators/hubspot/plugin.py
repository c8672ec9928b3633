"""The HubSpot emulator as the daemon finds it (entry point `upm_connector.emulators: hubspot`)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from ..plugin import SEEDS, EmulatorPlugin
from .emulator import EmulatorOptions
from .serving import RunningEmulator, serve_in_background


def _serve(seed_file: Path | None, state_dir: Path, port: int) -> AbstractContextManager[RunningEmulator]:
    """HubSpot keeps nothing on disk: `state_dir` is unused."""
    return serve_in_background(EmulatorOptions(seed_file=seed_file or SEEDS / "hubspot.json"), port=port)


PLUGIN = EmulatorPlugin("hubspot", _serve, "crm_emulators.hubspot.cli:command")
