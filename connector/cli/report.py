"""`upm-connector report NAME`: one report as CSV, XLSX or JSON, with the report filters."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from connector.cli.context import bare_database, settings
from connector.reports.base import Env, Filters, ReportError
from connector.reports.registry import REPORTS, run_report
from connector.store.migrate import upgrade

FORMATS = ("csv", "xlsx", "json")
"""connector.reports.output.FORMATS, named here so that `upm-connector` starts without importing
that module (and openpyxl with it) until a report is written."""


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time", param_hint=option) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@click.command()
@click.argument("name", type=click.Choice(list(REPORTS)), metavar="NAME")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@click.option("--from", "period_from", metavar="ISO", help="Period start (inclusive; a date is midnight UTC).")
@click.option("--to", "period_to", metavar="ISO", help="Period end (exclusive).")
@click.option("--group", help="Partners in this partner group (name or id).")
@click.option("--tier", help="Partners of this tier.")
@click.option("--region", help="Partners covering this country.")
@click.option("--partner", type=int, help="One partner (id) and its children.")
@click.option("--currency", default="USD", show_default=True, help="The ranking currency.")
@click.pass_context
def report(ctx: click.Context, name: str, fmt: str, output: Path | None, period_from: str | None,
           period_to: str | None, group: str | None, tier: str | None, region: str | None,
           partner: int | None, currency: str) -> None:
    """Compute report NAME: partner-dashboard pipeline-by-stage pipeline-by-segment lead-acceptance
    conversion-by-stage rep-ranking partner-ranking partner-adoption."""
    loaded = settings(ctx)
    db = bare_database(loaded)
    upgrade(db)
    try:
        filters = Filters(_moment(period_from, "--from"), _moment(period_to, "--to"), group, tier, region, partner,
                          currency)
        result = run_report(db, name, filters, Env(loaded.leads.segment_sla_days, datetime.now(timezone.utc)))
    except ReportError as exc:
        raise click.UsageError(str(exc)) from None
    from connector.reports.output import write_text, write_xlsx  # with openpyxl: imported when written

    if fmt == "xlsx":
        if output is None:
            raise click.UsageError("--format xlsx needs --output FILE")
        write_xlsx(result, output)
    elif output is None:
        write_text(result, fmt, sys.stdout)
    else:
        with output.open("w", encoding="utf-8", newline="") as stream:
            write_text(result, fmt, stream)
    if output is not None:
        click.echo(f"{name}: {len(result.rows)} rows written to {output}", err=True)
