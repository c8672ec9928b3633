"""`upm-connector failures ...`: the failed-records queue (list, show, retry, discard)."""

from __future__ import annotations

import click
from rich.table import Table

from connector.cli.context import database, engine, settings
from connector.cli.output import console, print_json

_LISTED = ("id", "connection", "direction", "module", "crm_object", "record_id", "crm_id", "external_id",
           "error_code", "error_message", "attempts", "status", "created_at", "updated_at")
"""A failure's columns as `list --json` and `show` print them."""


@click.group()
def failures() -> None:
    """Records a CRM refused or that failed mapping, kept for retry."""


@failures.command("list")
@click.option("--connection")
@click.option("--status", default="open", show_default=True, type=click.Choice(["open", "retried", "discarded"]))
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per failure (no payloads).")
@click.pass_context
def failures_list(ctx: click.Context, connection: str | None, status: str, as_json: bool) -> None:
    """A table of failed records (the count on stderr)."""
    from connector.sync.failures import list_failures

    rows = list_failures(database(settings(ctx)), connection, status)
    if as_json:
        print_json([{name: getattr(f, name) for name in _LISTED} for f in rows])
    else:
        table = Table()
        for column in ("ID", "Connection", "Direction", "Object", "Record", "Code", "Message", "Attempts", "Created"):
            table.add_column(column, no_wrap=column != "Message")
        for f in rows:
            target = f"record {f.record_id}" if f.direction == "to_crm" else f"crm {f.crm_id}"
            table.add_row(str(f.id), f.connection, f.direction, f"{f.module}/{f.crm_object}", target,
                          f.error_code or "-", f.error_message[:120], str(f.attempts), f"{f.created_at:%Y-%m-%d %H:%M}")
        console().print(table)
    click.echo(f"{len(rows)} {status} failure(s)", err=True)


@failures.command("show")
@click.argument("failure_id", type=int)
@click.pass_context
def failures_show(ctx: click.Context, failure_id: int) -> None:
    """Everything about one failure, its payload included."""
    import json

    from connector.sync.failures import get_failure

    row = get_failure(database(settings(ctx)), failure_id)
    if row is None:
        raise click.UsageError(f"no failure {failure_id}")
    for name in _LISTED:
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
    from connector.sync.failures import list_failures, retry_pulls, retry_pushes

    loaded = settings(ctx)
    db = database(loaded)
    chosen = [f for f in list_failures(db, connection) if retry_all or f.id in failure_ids]
    if not chosen:
        raise click.UsageError("no open failure matches")
    pushes = [f for f in chosen if f.direction == "to_crm"]
    click.echo(f"{retry_pushes(db, pushes)} push(es) queued for the next cycle")
    by_connection: dict[str, list] = {}  # type: ignore[type-arg]
    for f in chosen:
        if f.direction == "to_upm":
            by_connection.setdefault(f.connection, []).append(f)
    for name, rows in by_connection.items():
        sync_engine = engine(loaded, name)
        counts = retry_pulls(sync_engine, rows, SystemClock().now())
        sync_engine.adapter.close()
        click.echo(f"{name}: {len(rows)} pulled record(s) re-applied: {counts.line()}")


@failures.command("discard")
@click.argument("failure_ids", type=int, nargs=-1, required=True)
@click.pass_context
def failures_discard(ctx: click.Context, failure_ids: tuple[int, ...]) -> None:
    """Give up on failures (they stay listed with --status discarded)."""
    from connector.sync.failures import discard

    click.echo(f"{discard(database(settings(ctx)), list(failure_ids))} failure(s) discarded")
