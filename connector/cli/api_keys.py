"""`upm-connector api-key ...`: partner users' keys for the lead API."""

from __future__ import annotations

import click

from connector.cli.context import database, settings


@click.group("api-key")
def api_key() -> None:
    """Partner users' keys for the lead API (vendor callers' keys are in http.api_keys)."""


def _for_partner_user(ctx: click.Context, email: str, action):  # type: ignore[no-untyped-def]
    """Run keys.issue or keys.revoke on this user in one transaction; an unknown user is a one-line error."""
    from connector.leads.errors import NotFound

    try:
        with database(settings(ctx)).session() as session:
            return action(session, email)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None


@api_key.command("issue")
@click.argument("email")
@click.pass_context
def api_key_issue(ctx: click.Context, email: str) -> None:
    """Issue a new key for a partner user (replacing any earlier one); printed once, stored hashed."""
    from connector.api import keys

    click.echo(_for_partner_user(ctx, email, keys.issue))
    click.echo(f"the key of {email}: shown only now, give it to the user over a safe channel", err=True)


@api_key.command("revoke")
@click.argument("email")
@click.pass_context
def api_key_revoke(ctx: click.Context, email: str) -> None:
    """Withdraw a partner user's key: their calls are refused from now on."""
    from connector.api import keys

    had = _for_partner_user(ctx, email, keys.revoke)
    click.echo(f"key of {email} revoked" if had else f"{email} had no key")
