"""`upm-connector emulator hubspot`: serve the HubSpot emulator in the foreground."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..latency import with_latency
from ..runner import free_port, serve_forever
from .app import create_app
from .emulator import EmulatorOptions, HubSpotEmulator


@click.command("hubspot")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=8090, show_default=True, help="Port to listen on (0 picks a free one).")
@click.option("--portals", type=click.IntRange(min=1), default=1, show_default=True, help="Number of HubSpot accounts.")
@click.option("--seed-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON: {"portals": [{"properties": {type: [definition]}, "records": {type: [properties]}}]}.')
@click.option("--write-credentials", type=click.Path(dir_okay=False, path_type=Path),
              help="Write base URL, OAuth app, refresh and private-app tokens of every portal to this JSON file.")
@click.option("--token-ttl", type=click.IntRange(min=1), default=1800, show_default=True, help="Access token lifetime, seconds.")
@click.option("--ten-second-limit", type=click.IntRange(min=1), default=110, show_default=True, help="Calls per rolling 10 s per portal.")
@click.option("--daily-limit", type=click.IntRange(min=1), default=500_000, show_default=True, help="Calls per day per portal.")
@click.option("--search-per-second", type=click.IntRange(min=0), default=5, show_default=True,
              help="Searches per second per portal (0: no limit, for benchmarks).")
@click.option("--search-lag", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Seconds before search sees a write (real HubSpot's index lags a few seconds).")
@click.option("--latency", "latency_ms", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Milliseconds added to every request (a remote CRM's round trip, for benchmarks).")
def command(host: str, port: int, portals: int, seed_file: Path | None, write_credentials: Path | None,
            token_ttl: int, ten_second_limit: int, daily_limit: int, search_per_second: int, search_lag: float,
            latency_ms: float) -> None:
    """Serve an emulated HubSpot (CRM v3/v4 objects, search, associations, OAuth) until interrupted."""
    options = EmulatorOptions(portals=portals, token_ttl=token_ttl, ten_second_limit=ten_second_limit,
                              daily_limit=daily_limit, search_per_second=search_per_second or None, seed_file=seed_file,
                              search_lag_seconds=search_lag)
    emulator = HubSpotEmulator(options)
    port = port or free_port(host)
    public_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base_url = f"http://{public_host}:{port}"
    if write_credentials is not None:
        write_credentials.write_text(json.dumps(emulator.credentials(base_url), indent=2) + "\n")
        click.echo(f"credentials written to {write_credentials}")
    click.echo(f"HubSpot emulator with {portals} portal(s) on {base_url}")
    serve_forever(with_latency(create_app(emulator), latency_ms), host, port)
