"""`upm-connector run`: the daemon."""

from __future__ import annotations

import sys

import click

from connector.cli.context import settings


@click.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: scheduled lanes plus the HTTP API, until SIGTERM/SIGINT."""
    from connector.daemon.service import run_daemon

    sys.exit(run_daemon(settings(ctx)))
