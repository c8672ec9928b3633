"""The `upm-connector` command line."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from connector import __version__
from connector.config import ConfigError, Settings, load_settings
from connector.config.references import check_references
from connector.logs import configure_logging
from connector.store import MODULES


def _settings(ctx: click.Context) -> Settings:
    """Load the configuration once per invocation; on bad input print every problem and exit 2."""
    if "settings" not in ctx.obj:
        try:
            ctx.obj["settings"] = load_settings(ctx.obj["config_path"])
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            ctx.exit(2)
        settings = ctx.obj["settings"]
        configure_logging(settings.logging.level, settings.logging.format)
    return ctx.obj["settings"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="UPM_CONNECTOR_CONFIG",
    help="Config file (default ./config.yaml if present, else the embedded defaults).",
)
@click.version_option(__version__, prog_name="upm-connector")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """UPM Connector: sync the UPM datastore with vendors' and partners' CRMs, and distribute leads."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: scheduled lanes plus the HTTP API, until SIGTERM/SIGINT."""
    from connector.daemon.service import run_daemon

    sys.exit(run_daemon(_settings(ctx)))


@main.group()
def db() -> None:
    """Datastore schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the schema migrations."""
    from connector.store.database import Database
    from connector.store.migrate import current_revision, upgrade

    database = Database(_settings(ctx).database.url)
    upgrade(database, revision)
    click.echo(f"database at revision {current_revision(database)}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the schema revision of the database and of this version."""
    from connector.store.database import Database
    from connector.store.migrate import current_revision, head_revision

    database = Database(_settings(ctx).database.url)
    click.echo(f"database: {current_revision(database) or 'empty'}; this version: {head_revision(database)}")


@main.group()
def config() -> None:
    """Configuration."""


@config.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Validate the config and everything it references; exit non-zero naming each problem."""
    settings = _settings(ctx)
    problems = check_references(settings)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        ctx.exit(2)
    source = settings.source or "(embedded defaults)"
    click.echo(f"{source}: OK ({len(settings.connections)} connection(s), {len(settings.jobs)} job(s))")


@main.command()
@click.argument("module", type=click.Choice(list(MODULES)), metavar="MODULE")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), default="csv", show_default=True)
@click.option("--columns", help="Comma-separated columns (default: all).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@click.pass_context
def export(ctx: click.Context, module: str, fmt: str, columns: str | None, out: Path | None) -> None:
    """Export a module's records. MODULE is one of: prospects companies contacts accounts opportunities
    line-items deals notes tasks campaigns partners partner-users groups assignments."""
    from connector.export import ExportError, export_module
    from connector.store.database import Database

    database = Database(_settings(ctx).database.url)
    chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    try:
        if fmt == "xlsx" or out is None:
            target = out if fmt == "xlsx" else sys.stdout
            count = export_module(database, module, fmt, target, chosen)  # type: ignore[arg-type]
        else:
            with out.open("w", encoding="utf-8", newline="") as stream:
                count = export_module(database, module, fmt, stream, chosen)
    except ExportError as exc:
        raise click.UsageError(str(exc)) from None
    if out is not None:
        click.echo(f"{count} {module} written to {out}", err=True)


class _LazyEmulators(click.Group):
    """`upm-connector emulator NAME`: each emulator's command is imported only when asked for."""

    _commands = {"salesforce": "connector.emulators.salesforce.cli", "hubspot": "connector.emulators.hubspot.cli"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self._commands:
            return None
        return importlib.import_module(self._commands[name]).command  # type: ignore[no-any-return]


@main.group(cls=_LazyEmulators)
def emulator() -> None:
    """Run a local CRM emulator (rehearse a mapping change before touching production)."""
