"""`upm-connector partners|users|groups|named-accounts ...` and `directory seed`: the partner
directory from the command line, through connector.services.directory.

Lists take values separated by commas (`--countries US,CA`). A refused write is one line naming the
field and the value, exit 1; an import exits 0 all rows imported, 1 some failed, 2 the file cannot
be used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel
from rich.table import Table

from connector.cli.context import database, runtime, settings
from connector.cli.output import console, print_json
from connector.services.directory import (Deactivation, DirectoryError, DirectoryService, GroupChanges, GroupSpec,
                                          NamedAccountChanges, NamedAccountSpec, PartnerChanges, PartnerSpec,
                                          UserChanges, UserSpec, parse)

SHOWN_ERRORS = 20


def _service(ctx: click.Context) -> DirectoryService:
    """The directory service on this invocation's (migrated) datastore."""
    from connector.store.migrate import upgrade

    loaded = settings(ctx)
    upgrade(database(loaded))
    built = runtime(loaded)
    return DirectoryService(built.db, built.leads)


@contextmanager
def _refused() -> Iterator[None]:
    """A refused write is a one-line error naming the field and value, exit 1."""
    try:
        yield
    except DirectoryError as exc:
        raise click.ClickException(str(exc)) from None


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _given(**values: Any) -> dict[str, Any]:
    """The options the caller gave (None means not given)."""
    return {k: v for k, v in values.items() if v is not None}


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*((", ".join(map(str, v)) or "-") if isinstance(v, list) else ("-" if v in (None, "") else str(v))
                        for v in row))
    console().print(table)


def _show(view: BaseModel, as_json: bool) -> None:
    if as_json:
        print_json(view.model_dump())
        return
    _table(f"{type(view).__name__.removesuffix('View')} {getattr(view, 'name', getattr(view, 'email', ''))}",
           ("Field", "Value"), [(k, v) for k, v in view.model_dump().items()])


def _echo_deactivation(done: Deactivation, as_json: bool) -> None:
    if as_json:
        print_json(done.model_dump())
        return
    state = "deactivated" if done.was_active else "was already inactive"
    click.echo(f"{done.kind} {done.name} {state}; {len(done.leads)} lead(s) pulled back and redistributed")
    for lead in done.leads:
        holder = f" to {lead.partner}" if lead.partner else ""
        rep = f" (user {lead.user_id})" if lead.user_id is not None else ""
        group = f" group {lead.group_id}" if lead.group_id is not None else ""
        click.echo(f"  lead {lead.lead_id}: {lead.state} ({lead.status}){holder}{rep}{group} - {lead.reason}")
    for problem in done.problems:
        click.echo(f"  not moved: {problem}", err=True)


json_option = click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")


# -- partners ---------------------------------------------------------------------------------------

def _partner_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
        click.option("--type", "account_type", help="Distributor, Reseller, Alliance, OEM."),
        click.option("--tier", help="The medallion: Platinum, Gold, Silver, ..."),
        click.option("--parent", help="The parent partner (name or id); '' for none."),
        click.option("--countries", help="Territory: ISO 3166 codes, comma-separated (US,CA)."),
        click.option("--states", help="Territory: states or provinces, comma-separated."),
        click.option("--industries", help="Comma-separated."),
        click.option("--competencies", help="Comma-separated."),
        click.option("--certifications", help="Product certifications, comma-separated."),
        click.option("--products", help="Products sold, comma-separated."),
        click.option("--auto-accept/--no-auto-accept", default=None, help="Accept assigned leads automatically."),
        click.option("--ignored-companies", help="Companies never auto-registered, comma-separated."),
        click.option("--recipients", help="Default lead notification emails, comma-separated."),
    )):
        command = option(command)
    return command


def _partner_values(opts: dict[str, Any]) -> dict[str, Any]:
    lists = ("countries", "states", "industries", "competencies", "certifications", "products", "ignored_companies")
    values = {k: (_split(v) if k in lists else v) for k, v in opts.items()}
    values["notification_recipients"] = _split(values.pop("recipients", None))
    return _given(**values)


@click.group("partners")
def partners_group() -> None:
    """Partner accounts: add, edit, list, show, deactivate, import."""


@partners_group.command("add")
@click.argument("name")
@_partner_options
@click.pass_context
def partners_add(ctx: click.Context, name: str, **opts: Any) -> None:
    """Add the partner account NAME."""
    with _refused():
        view = _service(ctx).add_partner(parse(PartnerSpec, {"name": name, **_partner_values(opts)}))
    click.echo(f"partner {view.name} added (id {view.id})")


@partners_group.command("edit")
@click.argument("partner")
@click.option("--name", help="A new name.")
@_partner_options
@click.option("--active/--inactive", default=None, help="--inactive does not move leads: use deactivate.")
@click.pass_context
def partners_edit(ctx: click.Context, partner: str, **opts: Any) -> None:
    """Change the fields given of PARTNER (name or id)."""
    with _refused():
        view = _service(ctx).edit_partner(partner, parse(PartnerChanges, _partner_values(opts)))
    click.echo(f"partner {view.name} saved (id {view.id})")


@partners_group.command("list")
@json_option
@click.pass_context
def partners_list(ctx: click.Context, as_json: bool) -> None:
    """Every partner account."""
    found = _service(ctx).partners()
    if as_json:
        print_json([v.model_dump() for v in found])
        return
    _table("Partners", ("Id", "Name", "Type", "Tier", "Parent", "Countries", "States", "Users", "Auto-accept", "Active"),
           [(v.id, v.name, v.account_type, v.tier, v.parent, v.countries, v.states, v.users,
             "yes" if v.auto_accept else "no", "yes" if v.active else "no") for v in found])


@partners_group.command("show")
@click.argument("partner")
@json_option
@click.pass_context
def partners_show(ctx: click.Context, partner: str, as_json: bool) -> None:
    """One partner account, every field."""
    with _refused():
        _show(_service(ctx).partner(partner), as_json)


@partners_group.command("deactivate")
@click.argument("partner")
@click.option("--reason", default="the partner was deactivated", show_default=True)
@json_option
@click.pass_context
def partners_deactivate(ctx: click.Context, partner: str, reason: str, as_json: bool) -> None:
    """Make PARTNER inactive: its users' keys stop working, its open leads are pulled back and
    redistributed (each one printed with where it went)."""
    with _refused():
        _echo_deactivation(_service(ctx).deactivate_partner(partner, reason), as_json)


# -- users ------------------------------------------------------------------------------------------

def _user_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
        click.option("--first-name"),
        click.option("--last-name"),
        click.option("--role", type=click.Choice(["admin", "marketing", "sales"])),
    )):
        command = option(command)
    return command


@click.group("users")
def users_group() -> None:
    """Partner users: add, edit, list, show, deactivate, import."""


@users_group.command("add")
@click.argument("email")
@click.option("--partner", required=True, help="The user's partner account (name or id).")
@_user_options
@click.pass_context
def users_add(ctx: click.Context, email: str, **opts: Any) -> None:
    """Add the partner user EMAIL (role sales unless --role)."""
    with _refused():
        view = _service(ctx).add_user(parse(UserSpec, {"email": email, **_given(**opts)}))
    click.echo(f"user {view.email} added to {view.partner} as {view.role} (id {view.id})")


@users_group.command("edit")
@click.argument("user")
@click.option("--email", help="A new email.")
@click.option("--partner", help="Move to this partner account.")
@_user_options
@click.option("--active/--inactive", default=None, help="--inactive does not move leads: use deactivate.")
@click.pass_context
def users_edit(ctx: click.Context, user: str, **opts: Any) -> None:
    """Change the fields given of USER (email or id)."""
    with _refused():
        view = _service(ctx).edit_user(user, parse(UserChanges, _given(**opts)))
    click.echo(f"user {view.email} saved (id {view.id})")


@users_group.command("list")
@click.option("--partner", help="Only this partner's users.")
@json_option
@click.pass_context
def users_list(ctx: click.Context, partner: str | None, as_json: bool) -> None:
    """Partner users."""
    with _refused():
        found = _service(ctx).users(partner)
    if as_json:
        print_json([v.model_dump() for v in found])
        return
    _table("Partner users", ("Id", "Email", "Name", "Partner", "Role", "Active", "API key"),
           [(v.id, v.email, " ".join(n for n in (v.first_name, v.last_name) if n), v.partner, v.role,
             "yes" if v.active else "no", "yes" if v.has_api_key else "no") for v in found])


@users_group.command("show")
@click.argument("user")
@json_option
@click.pass_context
def users_show(ctx: click.Context, user: str, as_json: bool) -> None:
    """One partner user."""
    with _refused():
        _show(_service(ctx).user(user), as_json)


@users_group.command("deactivate")
@click.argument("user")
@click.option("--reason", default="the user was deactivated", show_default=True)
@json_option
@click.pass_context
def users_deactivate(ctx: click.Context, user: str, reason: str, as_json: bool) -> None:
    """Make USER inactive: their API key stops working, the leads assigned to them are pulled back and
    redistributed (each one printed with where it went)."""
    with _refused():
        _echo_deactivation(_service(ctx).deactivate_user(user, reason), as_json)


# -- groups -----------------------------------------------------------------------------------------

def _group_values(description: str | None, model: str | None, members: str | None,
                  criteria: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in criteria:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--criteria {item!r}: expected KEY=VALUE[,VALUE...]")
        found[key.strip()] = _split(value)
    return _given(description=description, distribution_model=model, members=_split(members),
                  criteria=found or None)


_group_options = (
    click.option("--description"),
    click.option("--model", type=click.Choice(["round_robin", "shark_tank"]), help="Distribution model."),
    click.option("--members", help="Partners in rotation order, comma-separated; PARTNER=REP_EMAIL names the rep."),
    click.option("--criteria", multiple=True, help="KEY=VALUE[,VALUE] (tier=Gold,Platinum), repeatable."),
)


def _with_group_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_group_options):
        command = option(command)
    return command


@click.group("groups")
def groups_group() -> None:
    """Partner groups: add, edit, list, show."""


@groups_group.command("add")
@click.argument("name")
@_with_group_options
@click.pass_context
def groups_add(ctx: click.Context, name: str, description: str | None, model: str | None, members: str | None,
               criteria: tuple[str, ...]) -> None:
    """Add the partner group NAME."""
    with _refused():
        view = _service(ctx).add_group(parse(GroupSpec, {"name": name,
                                                         **_group_values(description, model, members, criteria)}))
    click.echo(f"group {view.name} added (id {view.id}, {view.distribution_model}, {len(view.members)} member(s))")


@groups_group.command("edit")
@click.argument("group")
@click.option("--name", help="A new name.")
@_with_group_options
@click.pass_context
def groups_edit(ctx: click.Context, group: str, name: str | None, description: str | None, model: str | None,
                members: str | None, criteria: tuple[str, ...]) -> None:
    """Change the fields given of GROUP (name or id); --members replaces the whole list."""
    values = _given(name=name, **_group_values(description, model, members, criteria))
    with _refused():
        view = _service(ctx).edit_group(group, parse(GroupChanges, values))
    click.echo(f"group {view.name} saved (id {view.id}, {len(view.members)} member(s))")


@groups_group.command("list")
@json_option
@click.pass_context
def groups_list(ctx: click.Context, as_json: bool) -> None:
    """Every partner group with its members in rotation order."""
    found = _service(ctx).groups()
    if as_json:
        print_json([v.model_dump() for v in found])
        return
    _table("Partner groups", ("Id", "Name", "Model", "Members", "Criteria"),
           [(v.id, v.name, v.distribution_model,
             [m.partner + (f"={m.rep}" if m.rep else "") for m in v.members],
             [f"{k}={v2}" for k, v2 in v.criteria.items()]) for v in found])


@groups_group.command("show")
@click.argument("group")
@json_option
@click.pass_context
def groups_show(ctx: click.Context, group: str, as_json: bool) -> None:
    """One partner group."""
    with _refused():
        _show(_service(ctx).group(group), as_json)


# -- named accounts ---------------------------------------------------------------------------------

@click.group("named-accounts")
def named_accounts_group() -> None:
    """Named (protected) accounts: their leads go to the owning partner and rep."""


@named_accounts_group.command("add")
@click.argument("name")
@click.option("--partner", required=True, help="The owning partner (name or id).")
@click.option("--rep", help="The named rep's email (a user of that partner).")
@click.pass_context
def named_add(ctx: click.Context, name: str, partner: str, rep: str | None) -> None:
    """Protect the account NAME (an existing account of that name, else a new one)."""
    with _refused():
        view = _service(ctx).add_named_account(parse(NamedAccountSpec, _given(name=name, partner=partner, rep=rep)))
    click.echo(f"named account {view.name} (id {view.id}) owned by {view.partner}"
               + (f", rep {view.rep}" if view.rep else ""))


@named_accounts_group.command("edit")
@click.argument("account")
@click.option("--name")
@click.option("--partner")
@click.option("--rep", help="'' for none.")
@click.pass_context
def named_edit(ctx: click.Context, account: str, name: str | None, partner: str | None, rep: str | None) -> None:
    """Change the owner, rep or name of a named ACCOUNT (name or id)."""
    with _refused():
        view = _service(ctx).edit_named_account(account, parse(NamedAccountChanges,
                                                               _given(name=name, partner=partner, rep=rep)))
    click.echo(f"named account {view.name} saved: owned by {view.partner}" + (f", rep {view.rep}" if view.rep else ""))


@named_accounts_group.command("list")
@json_option
@click.pass_context
def named_list(ctx: click.Context, as_json: bool) -> None:
    """Every named account."""
    found = _service(ctx).named_accounts()
    if as_json:
        print_json([v.model_dump() for v in found])
        return
    _table("Named accounts", ("Id", "Name", "Partner", "Rep"), [(v.id, v.name, v.partner, v.rep) for v in found])


@named_accounts_group.command("show")
@click.argument("account")
@json_option
@click.pass_context
def named_show(ctx: click.Context, account: str, as_json: bool) -> None:
    """One named account."""
    with _refused():
        _show(_service(ctx).named_account(account), as_json)


@named_accounts_group.command("deactivate")
@click.argument("account")
@click.pass_context
def named_deactivate(ctx: click.Context, account: str) -> None:
    """Lift the protection: the account stays, its leads go by the rules from now on."""
    with _refused():
        view = _service(ctx).deactivate_named_account(account)
    click.echo(f"account {view.name} is no longer named")


# -- imports and seeding ----------------------------------------------------------------------------

def _import(ctx: click.Context, kind: str, file: Path, error_report: Path | None, failed_rows: Path | None) -> None:
    from connector.leads.imports import ImportFileError, write_error_report
    from connector.services.directory_import import import_directory

    service = _service(ctx)
    try:
        report = import_directory(service, kind, file, failed_rows=failed_rows)
    except ImportFileError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(2)
    click.echo(report.line())
    if report.errors:
        if error_report is not None:
            write_error_report(report.errors, error_report)
            click.echo(f"{len(report.errors)} problem(s) written to {error_report}")
        for error in report.errors[:SHOWN_ERRORS]:
            click.echo(f"{file}:{error.row}: {error.message}", err=True)
        if len(report.errors) > SHOWN_ERRORS:
            click.echo(f"... and {len(report.errors) - SHOWN_ERRORS} more (--error-report FILE.xlsx lists all)",
                       err=True)
        if failed_rows is not None:
            click.echo(f"{report.failed} failed row(s) written to {failed_rows}: fix them and import that file")
    ctx.exit(1 if report.errors else 0)


_import_options = (
    click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    click.option("--error-report", type=click.Path(dir_okay=False, path_type=Path),
                 help="Write every problem to this XLSX file (row, field, value, error log)."),
    click.option("--failed-rows", type=click.Path(dir_okay=False, path_type=Path),
                 help="Write the rows that failed, with the file's header, to this .csv or .xlsx to retry."),
)


def _with_import_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_import_options):
        command = option(command)
    return command


@partners_group.command("import")
@_with_import_options
@click.pass_context
def partners_import(ctx: click.Context, file: Path, error_report: Path | None, failed_rows: Path | None) -> None:
    """Add or update partners from FILE (.xlsx or .csv): Name, Type, Tier, Parent, Countries, States,
    Industries, Competencies, Certifications, Products, Auto Accept, Ignored Companies, Notification
    Recipients, Active (lists separated by ';' or ',')."""
    _import(ctx, "partners", file, error_report, failed_rows)


@users_group.command("import")
@_with_import_options
@click.pass_context
def users_import(ctx: click.Context, file: Path, error_report: Path | None, failed_rows: Path | None) -> None:
    """Add or update partner users from FILE (.xlsx or .csv): Email, Partner, First Name, Last Name,
    Role, Active."""
    _import(ctx, "users", file, error_report, failed_rows)


@click.group("directory")
def directory_group() -> None:
    """The partner directory as a whole."""


@directory_group.command("seed")
@click.pass_context
def directory_seed(ctx: click.Context) -> None:
    """Apply the config's `directory:` section (as the daemon does at start); twice changes nothing."""
    from connector.services.directory_seed import seed

    report = seed(_service(ctx), settings(ctx))
    click.echo(report.line())
    for problem in report.problems:
        click.echo(f"error: {problem}", err=True)
    ctx.exit(1 if report.problems else 0)


COMMANDS = (partners_group, users_group, groups_group, named_accounts_group, directory_group)
