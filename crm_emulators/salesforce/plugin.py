"""The Salesforce emulator as the daemon finds it (entry point `upm_connector.emulators: salesforce`)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from ..plugin import SEEDS, EmulatorPlugin
from .emulator import EmulatorOptions
from .server import RunningEmulator, serve_in_background


def _serve(seed_file: Path | None, state_dir: Path, port: int) -> AbstractContextManager[RunningEmulator]:
    options = EmulatorOptions(seed_file=seed_file or SEEDS / "salesforce.json")
    return serve_in_background(options, state_dir=state_dir, port=port)


PLUGIN = EmulatorPlugin("salesforce", _serve, "crm_emulators.salesforce.cli:command")
