"""`upm-connector sync` and `resync`: run a connection's sync now."""

from __future__ import annotations

import logging

import click

from connector.cli.context import lane_lease, migrated_engine, settings
from connector.cli.progress import TerminalProgress
from connector.clock import SystemClock
from connector.heap import bulk_work_heap

log = logging.getLogger(__name__)


def _run_engine(ctx: click.Context, connection: str, dry_run: bool, run, limit: int | None) -> None:  # type: ignore[no-untyped-def]
    """Open the connection's engine, run `run(engine, progress)` under the lane lease as bulk work
    (`bulk_work_heap`), print the counts; exit 1 when records failed (not on a dry run). After a
    real run the CRM's describe is cached for `mappings check` (read again once a day)."""
    db, engine = migrated_engine(ctx, connection)
    progress = TerminalProgress()
    try:
        if dry_run:  # a dry run writes nothing: no lease
            with bulk_work_heap():
                counts = run(engine, progress)
        else:
            with lane_lease(settings(ctx), db, f"sync:{connection}"), bulk_work_heap():
                counts = run(engine, progress)
            _cache_describe(ctx, connection, engine)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        progress.done()
        engine.adapter.close()
    _print_counts(counts, dry_run, limit)
    ctx.exit(1 if counts.failed and not dry_run else 0)


def _cache_describe(ctx: click.Context, connection: str, engine) -> None:  # type: ignore[no-untyped-def]
    """Cache the connection's describe after a sync went through; a CRM that stops answering now
    costs the cache its refresh, never the sync its result."""
    from connector.mapping.describe_cache import DescribeCache, refresh

    profile = engine.loaded.profile
    try:
        refresh(DescribeCache.of(settings(ctx)), connection, profile.crm, engine.adapter.describe,
                [o.crm_object for o in profile.objects], SystemClock().now())
    except Exception as exc:  # any CRM failure: the cache stays as it was
        log.warning("describe of %s not cached: %s: %s", connection, type(exc).__name__, exc)


def _print_counts(counts, dry_run: bool, limit: int | None) -> None:  # type: ignore[no-untyped-def]
    """The run's totals; on a dry run first each change (the first `limit`) and a line per object."""
    if dry_run:
        shown = counts.changes if limit is None else counts.changes[:limit]
        for change in shown:
            click.echo(f"would: {change}")
        if len(shown) < len(counts.changes):
            click.echo(f"... and {len(counts.changes) - len(shown)} more change(s) (--limit {limit})")
        for name, part in counts.objects.items():
            click.echo(f"{name}: would create {part.created}, update {part.updated}, leave {part.unchanged} unchanged, "
                       f"archive {part.archived}, push {part.pushed}")
    click.echo(("dry run, nothing written: " if dry_run else "") + counts.line())


@click.command()
@click.argument("connection")
@click.option("--object", "only", help="One object (UPM module or CRM object) instead of all.")
@click.option("--dry-run", is_flag=True, help="Print what would change on each side; write nothing.")
@click.option("--limit", type=click.IntRange(min=0), help="With --dry-run: show at most N changes (the summary counts all).")
@click.pass_context
def sync(ctx: click.Context, connection: str, only: str | None, dry_run: bool, limit: int | None) -> None:
    """Run one incremental sync cycle for CONNECTION now."""
    _run_engine(ctx, connection, dry_run, lambda engine, progress: engine.cycle(only=only, dry_run=dry_run, progress=progress),
                limit)


@click.command()
@click.argument("connection")
@click.option("--object", "only", help="One object (UPM module or CRM object) instead of all.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]),
              help="Re-read changes from this UTC time (ISO 8601).")
@click.option("--full", is_flag=True, help="Re-read everything and archive what the CRM no longer has.")
@click.option("--dry-run", is_flag=True, help="Print what would change on each side; write nothing.")
@click.option("--limit", type=click.IntRange(min=0), help="With --dry-run: show at most N changes (the summary counts all).")
@click.pass_context
def resync(ctx: click.Context, connection: str, only: str | None, since, full: bool, dry_run: bool,  # type: ignore[no-untyped-def]
           limit: int | None) -> None:
    """Re-read CONNECTION from a point (--since) or from scratch (--full) and reconcile."""
    from datetime import timezone

    if not since and not full:
        raise click.UsageError("give --since ISO-TIME or --full")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    _run_engine(ctx, connection, dry_run,
                lambda engine, progress: engine.resync(only=only, since=since, full=full, dry_run=dry_run, progress=progress),
                limit)

