"""`upm-connector connections ...`: partner connections held in the datastore (a partner's own
CRM), through connector.services.connections. A running daemon starts or stops their lanes within
`daemon.connections_poll_seconds`. A refused write is one line naming the field and value, exit 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.table import Table

from connector.cli.context import runtime, settings, token_vault
from connector.cli.output import console, print_json
from connector.services.connections import ConnectionEdit, ConnectionService, ConnectionSpec, ConnectionView
from connector.services.directory import DirectoryError


def _service(ctx: click.Context) -> ConnectionService:
    from connector.store.migrate import upgrade

    built = runtime(settings(ctx))
    upgrade(built.db)
    return ConnectionService(built)


@contextmanager
def _refused() -> Iterator[None]:
    try:
        yield
    except DirectoryError as exc:
        raise click.ClickException(str(exc)) from None


def _echo(view: ConnectionView, as_json: bool, verb: str) -> None:
    if as_json:
        print_json(view.model_dump())
    else:
        click.echo(f"connection '{view.name}' ({view.adapter}, partner {view.partner}) {verb}")


@click.group("connections")
def connections() -> None:
    """Partner connections held in the datastore: a partner's own CRM."""


@connections.command("add")
@click.argument("name")
@click.option("--partner", required=True, help="The partner account (name or id) the connection belongs to.")
@click.option("--adapter", required=True, help="An installed adapter (hubspot, salesforce).")
@click.option("--profile", required=True, help="A shipped profile (mappings/hubspot/partner.yaml) or a file.")
@click.option("--schedule", default="5m", show_default=True, help="A duration (1m) or a cron line.")
@click.option("--instance-url", help="The CRM's API base URL (default: the adapter's or the token's).")
@click.option("--auth-type", help="The auth type (default: private_app with --token-ref, else oauth).")
@click.option("--token-ref", help="A secret reference (${ENV}, file:PATH) to a static token (private_app).")
@click.option("--credentials-file", help="An emulator's credentials JSON (auth type credentials_file).")
@click.option("--client-id", help="The OAuth client id.")
@click.option("--client-secret-ref", help="A secret reference to the OAuth client secret.")
@click.option("--token-url", help="The OAuth token URL.")
@click.option("--disabled", is_flag=True, help="Store it without starting its lane.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def add(ctx: click.Context, name: str, partner: str, adapter: str, profile: str, schedule: str,
        instance_url: str | None, auth_type: str | None, token_ref: str | None, credentials_file: str | None,
        client_id: str | None, client_secret_ref: str | None, token_url: str | None, disabled: bool,
        as_json: bool) -> None:
    """Add partner connection NAME (authorize OAuth ones with `connections authorize NAME`)."""
    kind = auth_type or ("private_app" if token_ref else "credentials_file" if credentials_file else "oauth")
    auth = {key: value for key, value in {"type": kind, "token": token_ref, "file": credentials_file,
                                          "client_id": client_id, "client_secret": client_secret_ref,
                                          "token_url": token_url}.items() if value is not None}
    with _refused():
        view = _service(ctx).add(ConnectionSpec(name=name, partner=partner, adapter=adapter, profile=profile,
                                                schedule=schedule, instance_url=instance_url, auth=auth,
                                                enabled=not disabled))
    _echo(view, as_json, "added")


@connections.command("edit")
@click.argument("name")
@click.option("--profile", help="A shipped profile or a profile file.")
@click.option("--schedule", help="A duration (1m) or a cron line.")
@click.option("--instance-url", help="The CRM's API base URL.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="An adapter option (repeatable); the options given replace the stored ones.")
@click.option("--clear-options", is_flag=True, help="Drop every stored adapter option.")
@click.option("--enable/--disable", "enabled", default=None, help="Start or stop its lane.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def edit(ctx: click.Context, name: str, profile: str | None, schedule: str | None, instance_url: str | None,
         options: tuple[str, ...], clear_options: bool, enabled: bool | None, as_json: bool) -> None:
    """Change stored partner connection NAME (a running daemon follows without a restart)."""
    changes: dict[str, object] = {key: value for key, value in {"profile": profile, "schedule": schedule,
                                                                "instance_url": instance_url, "enabled": enabled}.items()
                                  if value is not None}
    if options or clear_options:
        parsed: dict[str, str] = {}
        for item in options:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise click.BadParameter(f"'{item}' is not KEY=VALUE", param_hint="--option")
            parsed[key.strip()] = value.strip()
        changes["options"] = parsed
    if not changes:
        raise click.UsageError("nothing to change: give --profile, --schedule, --instance-url, --option, "
                               "--clear-options, --enable or --disable")
    with _refused():
        view = _service(ctx).edit(name, ConnectionEdit.model_validate(changes))
    _echo(view, as_json, "changed")


@connections.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every stored partner connection."""
    found = _service(ctx).connections()
    if as_json:
        print_json([v.model_dump() for v in found])
        return
    table = Table(title="Partner connections", title_justify="left")
    for column in ("Name", "Partner", "Adapter", "Profile", "Schedule", "Auth", "Enabled"):
        table.add_column(column)
    for v in found:
        table.add_row(v.name, v.partner, v.adapter, v.profile, str(next(iter(v.schedule.values()), "-")), v.auth_type,
                      "yes" if v.enabled else "no")
    console().print(table)


@connections.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, name: str, as_json: bool) -> None:
    """One stored partner connection."""
    with _refused():
        view = _service(ctx).connection(name)
    if as_json:
        print_json(view.model_dump())
        return
    for key, value in view.model_dump().items():
        click.echo(f"{key:14} {value}")


@connections.command("remove")
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Remove a stored partner connection (its lane stops)."""
    with _refused():
        _echo(_service(ctx).remove(name), False, "removed")


@connections.command("enable")
@click.argument("name")
@click.pass_context
def enable(ctx: click.Context, name: str) -> None:
    """Start syncing a stored partner connection again."""
    with _refused():
        _echo(_service(ctx).set_enabled(name, True), False, "enabled")


@connections.command("disable")
@click.argument("name")
@click.pass_context
def disable(ctx: click.Context, name: str) -> None:
    """Stop a stored partner connection's lane, keeping the connection."""
    with _refused():
        _echo(_service(ctx).set_enabled(name, False), False, "disabled")


@connections.command("authorize")
@click.argument("name")
@click.option("--paste", is_flag=True, help="Paste the redirect URL (or code) instead of listening for it.")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for the redirect.")
@click.pass_context
def authorize(ctx: click.Context, name: str, paste: bool, timeout: int) -> None:
    """Print NAME's OAuth authorization URL, then store the tokens the grant yields (in the token
    vault, under the connection's name), as `auth login` does for config connections."""
    from connector.adapters.base import AuthError
    from connector.auth.login import LoginError, run_login

    loaded = settings(ctx)
    with _refused():
        _service(ctx).connection(name)
    built = runtime(loaded)
    built.refresh_connections()
    if name not in built.settings.connections:
        raise click.ClickException(f"connection '{name}' is disabled or its partner is inactive")
    try:
        tokens = run_login(built.settings, name, token_vault(loaded), paste=paste, timeout=timeout,
                           echo=click.echo, prompt=click.prompt)
    except (LoginError, AuthError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"connection '{name}' authorized (token generation {tokens.generation})")
