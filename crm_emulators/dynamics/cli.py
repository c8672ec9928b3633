"""`upm-connector emulator dynamics`: serve the Dataverse emulator in the foreground."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..core.tls import DEFAULT_HOSTS, ensure_tls_files
from ..runner import free_port, serve_forever
from .app import create_app
from .emulator import DynamicsEmulator, EmulatorOptions


@click.command("dynamics")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=8443, show_default=True, help="Port to listen on (0 picks a free one).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".dataverse-emulator"),
              show_default=True, help="Where the test CA and certificate are kept.")
@click.option("--seed-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON: {"lead": [{column: value}], "account": [...], ...}.')
@click.option("--write-credentials", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the environment URL, tenant, app, refresh token and CA file to this JSON file.")
@click.option("--token-ttl", type=click.IntRange(min=1), default=3599, show_default=True, help="Access token lifetime, seconds.")
@click.option("--requests-per-window", type=click.IntRange(min=0), default=6000, show_default=True,
              help="Service protection: requests per 5 minutes (0: no limit, for benchmarks).")
@click.option("--change-tracking-days", type=click.FloatRange(min=0, min_open=True), default=7, show_default=True,
              help="Change-tracking retention: delta links older than this are refused as expired.")
def command(host: str, port: int, state_dir: Path, seed_file: Path | None, write_credentials: Path | None,
            token_ttl: int, requests_per_window: int, change_tracking_days: float) -> None:
    """Serve an emulated Dataverse environment (Web API v9.2, $batch, change tracking, Entra ID tokens)."""
    port = port or free_port(host)
    public = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    tls = ensure_tls_files(state_dir, (*DEFAULT_HOSTS, public))
    base_url = f"https://{public}:{port}"
    options = EmulatorOptions(token_ttl=token_ttl, requests_per_window=requests_per_window or None,
                              change_tracking_days=change_tracking_days, seed_file=seed_file)
    emulator = DynamicsEmulator(options, resource=base_url)
    if write_credentials is not None:
        values = {**emulator.credentials(base_url), "ca_file": str(tls.ca_file.resolve())}
        write_credentials.write_text(json.dumps(values, indent=2) + "\n")
        click.echo(f"credentials written to {write_credentials}")
    click.echo(f"Dataverse emulator on {base_url}")
    serve_forever(create_app(emulator), host, port, tls.server_files())
