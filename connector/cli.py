"""The `upm-connector` command line."""

from __future__ import annotations

import contextlib
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
    """`upm-connector emulator NAME`: each installed emulator's command, imported only when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from connector.daemon.emulators import installed_emulators

        return sorted(installed_emulators())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from connector.daemon.emulators import installed_emulators

        plugin = installed_emulators().get(name)
        return plugin.command() if plugin is not None else None


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


@main.group()
def mappings() -> None:
    """Mapping profiles."""


@mappings.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--offline", is_flag=True, help="Do not ask the CRMs to describe their objects.")
@click.pass_context
def mappings_check(ctx: click.Context, files: tuple[Path, ...], offline: bool) -> None:
    """Check mapping profiles (default: every connection's) against the datastore and, when the
    connection is reachable, the CRM's describe. Every problem is listed with file:line."""
    from connector.mapping.check import check_files

    settings = _settings(ctx)
    problems, checked = check_files(settings, list(files), offline=offline)
    for line in checked:
        click.echo(line)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        ctx.exit(2)


def _open_engine(ctx: click.Context, connection: str):  # type: ignore[no-untyped-def]
    """Database (migrated, outbox router installed) and the connection's engine; usage errors exit 2."""
    from connector.mapping.loader import ProfileError
    from connector.runtime import Runtime
    from connector.store.migrate import upgrade

    runtime = Runtime(_settings(ctx))
    upgrade(runtime.db)
    try:
        return runtime.db, runtime.engine(connection)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from None
    except ProfileError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        ctx.exit(2)


@contextlib.contextmanager
def _lane_lease(ctx: click.Context, database, connection: str, dry_run: bool):  # type: ignore[no-untyped-def]
    """Hold the connection's lane lease while a command syncs it, as the daemon's lanes do, so a
    command and a daemon never sync one connection at once. A dry run writes nothing: no lease."""
    import os
    import socket
    import threading

    from connector.clock import SystemClock
    from connector.daemon.lease import LeaseStore

    if dry_run:
        yield
        return
    settings = _settings(ctx)
    leases = LeaseStore(database, f"cli:{socket.gethostname()}:{os.getpid()}", settings.daemon.lease_seconds, SystemClock())
    lane = f"sync:{connection}"
    if not leases.acquire(lane):
        raise click.ClickException(f"lane {lane} is running in a daemon right now; try again when it finishes")
    with leases.held(lane, threading.Event()):
        yield


class _TerminalProgress:
    """A one-line running count on a terminal (stderr); silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.totals: dict[str, int] = {}

    def __call__(self, step: str, records: int) -> None:
        self.totals[step] = self.totals.get(step, 0) + records
        if self.enabled:
            line = ", ".join(f"{name}: {count:,}" for name, count in self.totals.items())
            click.echo(f"\r{line}\x1b[K", nl=False, err=True)

    def done(self) -> None:
        if self.enabled and self.totals:
            click.echo("", err=True)


def _run_engine(ctx: click.Context, connection: str, dry_run: bool, run) -> None:  # type: ignore[no-untyped-def]
    """Open the connection's engine, run `run(engine, progress)` under the lane lease, print the
    counts; exit 1 when records failed (not on a dry run)."""
    database, engine = _open_engine(ctx, connection)
    progress = _TerminalProgress()
    try:
        with _lane_lease(ctx, database, connection, dry_run):
            counts = run(engine, progress)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        progress.done()
        engine.adapter.close()
    _print_counts(counts, dry_run)
    ctx.exit(1 if counts.failed and not dry_run else 0)


def _print_counts(counts, dry_run: bool) -> None:  # type: ignore[no-untyped-def]
    if dry_run:
        for change in counts.changes:
            click.echo(f"would: {change}")
    click.echo(("dry run, nothing written: " if dry_run else "") + counts.line())


@main.command()
@click.argument("connection")
@click.option("--object", "only", help="One object (UPM module or CRM object) instead of all.")
@click.option("--dry-run", is_flag=True, help="Print what would change on each side; write nothing.")
@click.pass_context
def sync(ctx: click.Context, connection: str, only: str | None, dry_run: bool) -> None:
    """Run one incremental sync cycle for CONNECTION now."""
    _run_engine(ctx, connection, dry_run, lambda engine, progress: engine.cycle(only=only, dry_run=dry_run, progress=progress))


@main.command()
@click.argument("connection")
@click.option("--object", "only", help="One object (UPM module or CRM object) instead of all.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]),
              help="Re-read changes from this UTC time (ISO 8601).")
@click.option("--full", is_flag=True, help="Re-read everything and archive what the CRM no longer has.")
@click.option("--dry-run", is_flag=True, help="Print what would change on each side; write nothing.")
@click.pass_context
def resync(ctx: click.Context, connection: str, only: str | None, since, full: bool, dry_run: bool) -> None:  # type: ignore[no-untyped-def]
    """Re-read CONNECTION from a point (--since) or from scratch (--full) and reconcile."""
    from datetime import timezone

    if not since and not full:
        raise click.UsageError("give --since ISO-TIME or --full")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    _run_engine(ctx, connection, dry_run,
                lambda engine, progress: engine.resync(only=only, since=since, full=full, dry_run=dry_run, progress=progress))


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Each connection's lanes: mode, cursors, last and next run, last counts, failures, token state."""
    from connector.sync.status import lane_report
    from connector.store.migrate import upgrade
    from connector.runtime import Runtime

    settings = _settings(ctx)
    database = Runtime(settings).db
    upgrade(database)
    for line in lane_report(settings, database):
        click.echo(line)


@main.group()
def failures() -> None:
    """Records a CRM refused or that failed mapping, kept for retry."""


@failures.command("list")
@click.option("--connection")
@click.option("--status", default="open", show_default=True, type=click.Choice(["open", "retried", "discarded"]))
@click.pass_context
def failures_list(ctx: click.Context, connection: str | None, status: str) -> None:
    """One line per failed record."""
    from connector.runtime import Runtime
    from connector.sync.failures import list_failures

    rows = list_failures(Runtime(_settings(ctx)).db, connection, status)
    for f in rows:
        target = f"record {f.record_id}" if f.direction == "to_crm" else f"crm {f.crm_id}"
        click.echo(f"{f.id:6} {f.connection} {f.direction:6} {f.module}/{f.crm_object} {target}: "
                   f"{f.error_code or '-'}: {f.error_message[:120]} (attempts {f.attempts}, {f.created_at:%Y-%m-%d %H:%M})")
    click.echo(f"{len(rows)} {status} failure(s)", err=True)


@failures.command("show")
@click.argument("failure_id", type=int)
@click.pass_context
def failures_show(ctx: click.Context, failure_id: int) -> None:
    """Everything about one failure, its payload included."""
    import json

    from connector.runtime import Runtime
    from connector.sync.failures import get_failure

    row = get_failure(Runtime(_settings(ctx)).db, failure_id)
    if row is None:
        raise click.UsageError(f"no failure {failure_id}")
    for name in ("id", "connection", "direction", "module", "crm_object", "record_id", "crm_id", "external_id",
                 "error_code", "error_message", "attempts", "status", "created_at", "updated_at"):
        click.echo(f"{name}: {getattr(row, name)}")
    click.echo("payload: " + json.dumps(row.payload, indent=2, sort_keys=True))


@failures.command("retry")
@click.argument("failure_ids", type=int, nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Every open failure (of --connection).")
@click.option("--connection")
@click.pass_context
def failures_retry(ctx: click.Context, failure_ids: tuple[int, ...], retry_all: bool, connection: str | None) -> None:
    """Retry failures: pushes are queued in the outbox again; pulls are re-applied now."""
    from connector.clock import SystemClock
    from connector.runtime import Runtime
    from connector.sync.failures import list_failures, retry_pulls, retry_pushes

    runtime = Runtime(_settings(ctx))
    database = runtime.db
    chosen = [f for f in list_failures(database, connection) if retry_all or f.id in failure_ids]
    if not chosen:
        raise click.UsageError("no open failure matches")
    pushes = [f for f in chosen if f.direction == "to_crm"]
    click.echo(f"{retry_pushes(database, pushes)} push(es) queued for the next cycle")
    by_connection: dict[str, list] = {}  # type: ignore[type-arg]
    for f in chosen:
        if f.direction == "to_upm":
            by_connection.setdefault(f.connection, []).append(f)
    for name, rows in by_connection.items():
        engine = runtime.engine(name)
        counts = retry_pulls(engine, rows, SystemClock().now())
        engine.adapter.close()
        click.echo(f"{name}: {len(rows)} pulled record(s) re-applied: {counts.line()}")


@failures.command("discard")
@click.argument("failure_ids", type=int, nargs=-1, required=True)
@click.pass_context
def failures_discard(ctx: click.Context, failure_ids: tuple[int, ...]) -> None:
    """Give up on failures (they stay listed with --status discarded)."""
    from connector.runtime import Runtime
    from connector.sync.failures import discard

    click.echo(f"{discard(Runtime(_settings(ctx)).db, list(failure_ids))} failure(s) discarded")


@main.group("api-key")
def api_key() -> None:
    """Partner users' keys for the lead API (vendor callers' keys are in http.api_keys)."""


def _for_partner_user(ctx: click.Context, email: str, action):  # type: ignore[no-untyped-def]
    """Run keys.issue or keys.revoke on this user in one transaction; an unknown user is a one-line error."""
    from connector.leads.errors import NotFound
    from connector.runtime import Runtime

    try:
        with Runtime(_settings(ctx)).db.session() as session:
            return action(session, email)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None


@api_key.command("issue")
@click.argument("email")
@click.pass_context
def api_key_issue(ctx: click.Context, email: str) -> None:
    """Issue a new key for a partner user (replacing any earlier one); printed once, stored hashed."""
    from connector.api import keys

    click.echo(_for_partner_user(ctx, email, keys.issue))
    click.echo(f"the key of {email}: shown only now, give it to the user over a safe channel", err=True)


@api_key.command("revoke")
@click.argument("email")
@click.pass_context
def api_key_revoke(ctx: click.Context, email: str) -> None:
    """Withdraw a partner user's key: their calls are refused from now on."""
    from connector.api import keys

    had = _for_partner_user(ctx, email, keys.revoke)
    click.echo(f"key of {email} revoked" if had else f"{email} had no key")


# Command groups kept in their own modules (they use the helpers above, imported when run).
from connector.cli_import import import_group, sweep_command  # noqa: E402
from connector.cli_leads import leads_group  # noqa: E402

leads_group.add_command(sweep_command)
main.add_command(leads_group)
main.add_command(import_group)
