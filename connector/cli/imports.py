"""`upm-connector import prospects FILE`: the lead import from the command line.

Exit codes: 0 done; 1 some rows failed or were not assigned; 2 the file or the options cannot be used.
"""

from __future__ import annotations

from pathlib import Path

import click

from connector.cli.context import database as open_database
from connector.cli.context import settings as settings_of
from connector.cli.progress import TerminalProgress
from connector.clock import SystemClock

SHOWN_ERRORS = 20


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

    settings = settings_of(ctx)
    database = open_database(settings)
    bar = TerminalProgress()
    try:
        if not dry_run:
            upgrade(database)
        report = import_prospects(database, file, lead_settings=settings.leads, clock=SystemClock(),
                                  update_on=update_on, dry_run=dry_run,
                                  progress=bar.for_step(f"import {file.name}") if bar.enabled else None)
    except ImportFileError as exc:
        bar.done()
        click.echo(f"error: {exc}", err=True)
        ctx.exit(2)
    finally:
        bar.done()
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
