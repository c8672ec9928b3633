"""`upm-connector config check`, `mappings check` and `mappings schema`: validate what the admin writes."""

from __future__ import annotations

from pathlib import Path

import click

from connector.cli.context import describer, settings
from connector.clock import SystemClock
from connector.daemon.references import check_references


@click.group()
def config() -> None:
    """Configuration."""


@config.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Validate the config and everything it references; exit non-zero naming each problem."""
    loaded = settings(ctx)
    problems = check_references(loaded)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        ctx.exit(2)
    source = loaded.source or "(embedded defaults)"
    click.echo(f"{source}: OK ({len(loaded.connections)} connection(s), {len(loaded.jobs)} job(s))")


@click.group()
def mappings() -> None:
    """Mapping profiles."""


@mappings.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--offline", is_flag=True, help="Do not ask the CRMs to describe their objects (use the cached describe).")
@click.pass_context
def mappings_check(ctx: click.Context, files: tuple[Path, ...], offline: bool) -> None:
    """Check mapping profiles (default: every connection's) against the datastore and the CRM's
    describe: the live one when the connection is reachable (then cached in the state dir), else
    the cached one, with its age. Every problem is listed with file:line."""
    from connector.mapping.check import check_files
    from connector.mapping.describe_cache import DescribeCache

    loaded = settings(ctx)
    problems, checked = check_files(loaded, list(files), offline=offline,
                                    describer=lambda connection: describer(loaded, connection),
                                    cache=DescribeCache.of(loaded), now=SystemClock().now())
    for line in checked:
        click.echo(line)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        ctx.exit(2)


@mappings.command("schema")
def mappings_schema() -> None:
    """Print the JSON Schema of a mapping profile (the shipped copy: connector/mappings/profile.schema.json)."""
    from connector.mapping.schema import profile_schema_text

    click.echo(profile_schema_text(), nl=False)
