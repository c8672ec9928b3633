"""What an emulator offers the daemon, found through the `upm_connector.emulators` entry-point group.

The connector imports nothing from an emulator package but this object: `serve` starts it in the
background for the embedded defaults, `command` is its `upm-connector emulator NAME` command.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import click

SEEDS = Path(__file__).resolve().parent / "seeds"


class Served(Protocol):
    """An emulator serving in the background."""

    @property
    def base_url(self) -> str: ...

    @property
    def credentials(self) -> dict[str, Any]: ...


ServeFn = Callable[[Path | None, Path, int], AbstractContextManager[Served]]
"""serve(seed_file or None for the packaged demo seed, state_dir, port or 0) -> context manager."""


@dataclass(frozen=True)
class EmulatorPlugin:
    """One CRM emulator: how to serve it in-process and where its command line lives."""

    name: str
    serve: ServeFn
    command_path: str
    """`module:attribute` of its click command, imported only when the command is asked for."""

    def command(self) -> click.Command:
        module, _, attribute = self.command_path.partition(":")
        return getattr(importlib.import_module(module), attribute)  # type: ignore[no-any-return]

    def default_seed(self) -> Path:
        """The packaged demo seed (`seeds/NAME.json`)."""
        return SEEDS / f"{self.name}.json"
