"""`upm-connector db ...`: the datastore schema."""

from __future__ import annotations

import click

from connector.cli.context import bare_database, settings
from connector.store.migrate import current_revision, head_revision, upgrade


@click.group()
def db() -> None:
    """Datastore schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the schema migrations."""
    database = bare_database(settings(ctx))
    upgrade(database, revision)
    click.echo(f"database at revision {current_revision(database)}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the schema revision of the database and of this version."""
    database = bare_database(settings(ctx))
    click.echo(f"database: {current_revision(database) or 'empty'}; this version: {head_revision(database)}")
