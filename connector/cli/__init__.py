"""The `upm-connector` command line: the root group; each command group lives in its own module
and gets settings, datastore, engines and lane leases from `connector.cli.context`."""

from __future__ import annotations

from pathlib import Path

import click

from connector import __version__
from connector.cli.api_keys import api_key
from connector.cli.auth import auth
from connector.cli.config import config, mappings
from connector.cli.connections import connections
from connector.cli.daemon import run
from connector.cli.db import db
from connector.cli.directory import COMMANDS as DIRECTORY_COMMANDS
from connector.cli.emulator import emulator
from connector.cli.export import export
from connector.cli.failures import failures
from connector.cli.imports import import_group
from connector.cli.init import init
from connector.cli.leads import leads_group
from connector.cli.reconcile import reconcile
from connector.cli.report import report
from connector.cli.scoring import scoring_group
from connector.cli.status import status
from connector.cli.sync import resync, sync


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


for _command in (init, run, db, config, export, emulator, auth, mappings, sync, resync, status, failures, api_key,
                 leads_group, import_group, report, scoring_group, reconcile, connections,
                 *DIRECTORY_COMMANDS):
    main.add_command(_command)
