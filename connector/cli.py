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


@main.group()
def auth() -> None:
    """CRM credentials: first authorization, token state, key rotation."""


def _vault(settings: Settings):  # type: ignore[no-untyped-def]
    from connector.auth.keys import keyring, load_keys
    from connector.auth.vault import TokenVault
    from connector.clock import SystemClock
    from connector.store.database import Database
    from connector.store.migrate import upgrade

    database = Database(settings.database.url)
    upgrade(database)
    return TokenVault(database, keyring(load_keys(settings)), SystemClock())


@auth.command("status")
@click.pass_context
def auth_status(ctx: click.Context) -> None:
    """List connections and their token state (never the tokens)."""
    settings = _settings(ctx)
    rows = {row.connection: row for row in _vault(settings).statuses()}
    click.echo(f"{'connection':24} {'adapter':11} {'auth':17} {'state':13} {'refreshed':26} expires")
    for name in sorted(set(settings.connections) | set(rows)):
        conn = settings.connections.get(name)
        row = rows.get(name)
        state = "no token" if row is None else row.status
        if row is not None and row.status == "ok" and row.access_token is None:
            state = "no token"
        click.echo(
            f"{name:24} {(conn.adapter if conn else '(removed)'):11} {(conn.auth.type if conn else '-'):17} {state:13} "
            f"{(row.refreshed_at.isoformat(timespec='seconds') if row and row.refreshed_at else '-'):26} "
            f"{(row.expires_at.isoformat(timespec='seconds') if row and row.expires_at else '-')}"
        )
        if row is not None and row.status_reason:
            click.echo(f"    reason: {row.status_reason}")


@auth.command("rotate-key")
@click.option("--new-key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the new key goes when keys come from a reference (default: the configured key_file).")
@click.pass_context
def auth_rotate_key(ctx: click.Context, new_key_file: Path | None) -> None:
    """Re-encrypt every stored token under a new key."""
    from cryptography.fernet import Fernet

    from connector.auth.keys import key_file_path, keyring, load_keys, write_key_file

    settings = _settings(ctx)
    vault = _vault(settings)
    old_keys = load_keys(settings)
    new_key = Fernet.generate_key().decode()
    from_file = settings.secrets.key is None
    target = key_file_path(settings) if from_file and new_key_file is None else new_key_file
    if target is None:
        raise click.UsageError("keys come from a reference: give --new-key-file to receive the new key")
    # The new key is written (beside the old ones) before anything is re-encrypted with it.
    write_key_file(target, [new_key, *old_keys])
    count = vault.rotate(keyring([new_key, *old_keys]))
    if from_file and new_key_file is None:
        write_key_file(target, [new_key])
        click.echo(f"{count} connection(s) re-encrypted; {target} now holds only the new key")
    else:
        click.echo(
            f"{count} connection(s) re-encrypted; the new key is in {target}: point secrets.key at it "
            "(the old keys are listed after it there until you drop them)"
        )


@auth.command("login")
@click.argument("connection")
@click.option("--paste", is_flag=True, help="Paste the redirect URL (or code) instead of listening for it.")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for the redirect.")
@click.pass_context
def auth_login(ctx: click.Context, connection: str, paste: bool, timeout: int) -> None:
    """Authorize CONNECTION (authorization-code flow) and store its first tokens."""
    from connector.adapters.base import AuthError
    from connector.auth.login import LoginError, run_login

    settings = _settings(ctx)
    if connection not in settings.connections:
        raise click.UsageError(f"no connection named '{connection}' (configured: {', '.join(settings.connections) or 'none'})")
    try:
        tokens = run_login(settings, connection, _vault(settings), paste=paste, timeout=timeout, echo=click.echo, prompt=click.prompt)
    except (LoginError, AuthError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"connection '{connection}' authorized (token generation {tokens.generation})")
