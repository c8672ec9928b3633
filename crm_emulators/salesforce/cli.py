"""`upm-connector emulator salesforce`: serve the Salesforce emulator over HTTPS in the foreground."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from ..latency import with_latency
from ..runner import free_port, serve_forever
from .app import create_app
from .emulator import EmulatorOptions, SalesforceEmulator
from .errors import RecordError
from .server import connect_host, credentials, write_credentials
from ..core.tls import DEFAULT_HOSTS, ensure_tls_files


@click.command("salesforce")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8443, show_default=True, help="Port to listen on (0: any free port).")
@click.option("--seed-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON {"Lead": [{...}], ...} loaded at start and on reset.')
@click.option("--extra-fields-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON {"Lead": [{"name": "X__c", "type": "string", ...}], ...}: custom fields to add.')
@click.option("--write-credentials", "credentials_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write instance_url, token_url, client_id, client_secret, refresh_token, ca_file here.")
@click.option("--token-ttl", type=int, default=7200, show_default=True, help="Access token lifetime, seconds.")
@click.option("--daily-api-limit", type=int, default=100_000, show_default=True, help="API calls per 24 hours.")
@click.option("--rotate-refresh-tokens/--no-rotate-refresh-tokens", default=False, show_default=True,
              help="Answer each refresh with a new refresh token and revoke the old one.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the TLS files and credentials.json go (default: a new temporary directory).")
@click.option("--latency", "latency_ms", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Milliseconds added to every request (a remote CRM's round trip, for benchmarks).")
def command(
    host: str,
    port: int,
    seed_file: Path | None,
    extra_fields_file: Path | None,
    credentials_file: Path | None,
    token_ttl: int,
    daily_api_limit: int,
    rotate_refresh_tokens: bool,
    state_dir: Path | None,
    latency_ms: float,
) -> None:
    """A local, stateful Salesforce (REST, composite, Bulk API 2.0, OAuth) over HTTPS."""
    directory = state_dir or Path(tempfile.mkdtemp(prefix="upm-sf-emulator-"))
    extra_fields = json.loads(extra_fields_file.read_text(encoding="utf-8")) if extra_fields_file else None
    options = EmulatorOptions(
        token_ttl=token_ttl,
        daily_api_limit=daily_api_limit,
        rotate_refresh_tokens=rotate_refresh_tokens,
        seed_file=seed_file,
        extra_fields=extra_fields,
    )
    try:
        emulator = SalesforceEmulator(options)
    except (ValueError, KeyError, RecordError) as exc:
        raise click.UsageError(f"cannot load the seed or extra fields: {exc}") from None
    port = port or free_port(host)
    tls = ensure_tls_files(directory, (*DEFAULT_HOSTS, connect_host(host)))
    emulator.instance_url = f"https://{connect_host(host)}:{port}"
    target = credentials_file or directory / "credentials.json"
    write_credentials(target, credentials(emulator, tls))
    click.echo(f"Salesforce emulator on {emulator.instance_url}", err=True)
    click.echo(f"credentials: {target}  CA: {tls.ca_file}", err=True)
    serve_forever(with_latency(create_app(emulator), latency_ms), host, port, tls.server_files())
