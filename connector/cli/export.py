"""`upm-connector export MODULE`: a module's records as CSV, XLSX or JSON lines."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from connector.cli.context import bare_database, settings
from connector.cli.progress import TerminalProgress
from connector.store import MODULES


@click.command()
@click.argument("module", type=click.Choice(list(MODULES)), metavar="MODULE")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), default="csv", show_default=True)
@click.option("--columns", help="Comma-separated columns (default: all).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@click.pass_context
def export(ctx: click.Context, module: str, fmt: str, columns: str | None, out: Path | None) -> None:
    """Export a module's records. MODULE is one of: prospects companies contacts accounts opportunities
    line-items deals notes tasks campaigns partners partner-users groups assignments."""
    from connector.export import ExportError, export_module

    database = bare_database(settings(ctx))
    chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    bar = TerminalProgress()
    # rows on a terminal's stdout would tear through the bar: then no bar
    shown = bar.enabled and (out is not None or not sys.stdout.isatty())
    progress = bar.for_step(f"export {module}") if shown else None
    try:
        if fmt == "xlsx" or out is None:
            target = out if fmt == "xlsx" else sys.stdout
            count = export_module(database, module, fmt, target, chosen, progress)  # type: ignore[arg-type]
        else:
            with out.open("w", encoding="utf-8", newline="") as stream:
                count = export_module(database, module, fmt, stream, chosen, progress)
    except ExportError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        bar.done()
    if out is not None:
        click.echo(f"{count} {module} written to {out}", err=True)
