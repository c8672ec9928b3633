"""`upm-connector auth ...`: CRM credentials: first authorization, token state, key rotation."""

from __future__ import annotations

from pathlib import Path

import click

from connector.cli.context import settings as settings_of
from connector.cli.context import token_vault


@click.group()
def auth() -> None:
    """CRM credentials: first authorization, token state, key rotation."""


@auth.command("status")
@click.pass_context
def auth_status(ctx: click.Context) -> None:
    """List connections and their token state (never the tokens)."""
    settings = settings_of(ctx)
    rows = {row.connection: row for row in token_vault(settings).statuses()}
    click.echo(f"{'connection':24} {'adapter':11} {'auth':17} {'state':13} {'refreshed':26} expires")
    for name in sorted(set(settings.connections) | set(rows)):
        conn = settings.connections.get(name)
        row = rows.get(name)
        state = "no token" if row is None else row.status
        if row is not None and row.status == "ok" and row.access_token is None:
            state = "no token"
        click.echo(
            f"{name:24} {(conn.adapter if conn else '(removed)'):11} {(conn.auth.type if conn else '-'):17} {state:13} "
            f"{(row.refreshed_at.isoformat(timespec='seconds') if row and row.refreshed_at else '-'):26} "
            f"{(row.expires_at.isoformat(timespec='seconds') if row and row.expires_at else '-')}"
        )
        if row is not None and row.status_reason:
            click.echo(f"    reason: {row.status_reason}")


@auth.command("rotate-key")
@click.option("--new-key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the new key goes when keys come from a reference (default: the configured key_file).")
@click.pass_context
def auth_rotate_key(ctx: click.Context, new_key_file: Path | None) -> None:
    """Re-encrypt every stored token under a new key."""
    from cryptography.fernet import Fernet

    from connector.auth.keys import key_file_path, keyring, load_keys, write_key_file

    settings = settings_of(ctx)
    vault = token_vault(settings)
    old_keys = load_keys(settings)
    new_key = Fernet.generate_key().decode()
    from_file = settings.secrets.key is None
    target = key_file_path(settings) if from_file and new_key_file is None else new_key_file
    if target is None:
        raise click.UsageError("keys come from a reference: give --new-key-file to receive the new key")
    # The new key is written (beside the old ones) before anything is re-encrypted with it.
    write_key_file(target, [new_key, *old_keys])
    count = vault.rotate(keyring([new_key, *old_keys]))
    if from_file and new_key_file is None:
        write_key_file(target, [new_key])
        click.echo(f"{count} connection(s) re-encrypted; {target} now holds only the new key")
    else:
        click.echo(
            f"{count} connection(s) re-encrypted; the new key is in {target}: point secrets.key at it "
            "(the old keys are listed after it there until you drop them)"
        )


@auth.command("login")
@click.argument("connection")
@click.option("--paste", is_flag=True, help="Paste the redirect URL (or code) instead of listening for it.")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for the redirect.")
@click.pass_context
def auth_login(ctx: click.Context, connection: str, paste: bool, timeout: int) -> None:
    """Authorize CONNECTION (authorization-code flow) and store its first tokens."""
    from connector.adapters.base import AuthError
    from connector.auth.login import LoginError, run_login

    settings = settings_of(ctx)
    if connection not in settings.connections:
        raise click.UsageError(f"no connection named '{connection}' (configured: {', '.join(settings.connections) or 'none'})")
    try:
        tokens = run_login(settings, connection, token_vault(settings), paste=paste, timeout=timeout, echo=click.echo, prompt=click.prompt)
    except (LoginError, AuthError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"connection '{connection}' authorized (token generation {tokens.generation})")
