"""The Dataverse emulator as the daemon finds it (entry point `upm_connector.emulators: dynamics`)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from ..plugin import SEEDS, EmulatorPlugin
from .emulator import EmulatorOptions
from .serving import RunningEmulator, serve_in_background


def _serve(seed_file: Path | None, state_dir: Path, port: int) -> AbstractContextManager[RunningEmulator]:
    return serve_in_background(EmulatorOptions(seed_file=seed_file or SEEDS / "dynamics.json"), state_dir=state_dir, port=port)


PLUGIN = EmulatorPlugin("dynamics", _serve, "crm_emulators.dynamics.cli:command")
