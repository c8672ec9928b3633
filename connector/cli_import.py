"""`upm-connector import prospects FILE` and `upm-connector leads sweep`: the lead import and the
aging sweep from the command line.

Exit codes: 0 done; 1 some rows failed (import) or were not assigned; 2 the file or the options
cannot be used.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from connector.clock import SystemClock
from connector.config.settings import Settings
from connector.store.database import Database

SHOWN_ERRORS = 20


def _settings(ctx: click.Context) -> Settings:
    from connector.cli import _settings as load  # the root command's loader (imported late: cli imports us)

    return load(ctx)


def _database(settings: Settings) -> Database:
    """The datastore with the outbox router installed, so what we write is pushed to the CRMs."""
    from connector.runtime import Runtime

    return Runtime(settings).db


@contextmanager
def _sweep_lease(settings: Settings, db: Database) -> Iterator[None]:
    """Hold the aging sweep's lane lease, as the daemon's lane does, so both never sweep at once."""
    from connector.daemon.lease import LeaseStore
    from connector.jobs.aging_sweep import LANE

    leases = LeaseStore(db, f"cli:{socket.gethostname()}:{os.getpid()}", settings.daemon.lease_seconds, SystemClock())
    if not leases.acquire(LANE):
        raise click.ClickException(f"lane {LANE} is running in a daemon right now; try again when it finishes")
    with leases.held(LANE, threading.Event()):
        yield


@click.group("import")
def import_group() -> None:
    """Bulk-load records from XLSX or CSV files."""


@import_group.command("prospects")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--update-on", type=click.Choice(["email", "external-id"]),
              help="Update the prospect with the row's email / External ID (CRM id) instead of refusing it.")
@click.option("--dry-run", is_flag=True, help="Check every row and count what would happen; write nothing.")
@click.option("--error-report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every problem to this XLSX file (row, field, value, error log).")
@click.pass_context
def import_prospects_command(ctx: click.Context, file: Path, update_on: str | None, dry_run: bool,
                             error_report: Path | None) -> None:
    """Import prospects from FILE (.xlsx or .csv) with the portal's template columns (Email, First Name,
    ..., Country as ISO alpha-3, Segment, RecordAssignTo, AccessType). New leads are assigned to their
    RecordAssignTo or distributed by the rules."""
    from connector.leads.imports import ImportFileError, import_prospects, write_error_report
    from connector.store.migrate import upgrade

    settings = _settings(ctx)
    database = _database(settings)
    try:
        if not dry_run:
            upgrade(database)
        report = import_prospects(database, file, lead_settings=settings.leads, clock=SystemClock(),
                                  update_on=update_on, dry_run=dry_run)
    except ImportFileError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(2)
    finally:
        database.dispose()
    for line in report.lines():
        click.echo(line)
    if report.errors:
        if error_report is not None:
            write_error_report(report.errors, error_report)
            click.echo(f"{len(report.errors)} problem(s) written to {error_report}")
        else:
            for error in report.errors[:SHOWN_ERRORS]:
                click.echo(f"row {error.row}: {error.message}", err=True)
            if len(report.errors) > SHOWN_ERRORS:
                click.echo(f"... and {len(report.errors) - SHOWN_ERRORS} more (--error-report FILE.xlsx lists all)",
                           err=True)
    ctx.exit(1 if report.failed or report.not_assigned else 0)


@click.command("sweep")
@click.option("--dry-run", is_flag=True, help="Print the reminders and pullbacks due now; write nothing.")
@click.pass_context
def sweep_command(ctx: click.Context, dry_run: bool) -> None:
    """Lead aging: remind holders before their deadlines and pull back (and redistribute) leads past them."""
    from connector.leads.aging import sweep

    settings = _settings(ctx)
    database = _database(settings)
    try:
        if dry_run:
            report = sweep(database, settings.leads, SystemClock(), dry_run=True)
        else:
            with _sweep_lease(settings, database):
                report = sweep(database, settings.leads, SystemClock())
    finally:
        database.dispose()
    for line in report.lines():
        click.echo(line)
