"""`upm-connector emulator NAME`: each installed emulator's own command (found by entry point)."""

from __future__ import annotations

import click


class _LazyEmulators(click.Group):
    """`upm-connector emulator NAME`: each installed emulator's command, imported only when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from connector.daemon.emulators import installed_emulators

        return sorted(installed_emulators())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from connector.daemon.emulators import installed_emulators

        plugin = installed_emulators().get(name)
        return plugin.command() if plugin is not None else None


@click.group(cls=_LazyEmulators)
def emulator() -> None:
    """Run a local CRM emulator (rehearse a mapping change before touching production)."""
