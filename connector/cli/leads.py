"""`upm-connector leads ...`: lead distribution from the command line (the LeadService's actions)
and the aging sweep."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import click

from connector.cli.context import database, lane_lease, lead_service, settings
from connector.cli.output import print_json
from connector.clock import SystemClock
from connector.leads import rules as lead_rules
from connector.leads.errors import LeadError
from connector.leads.lifecycle import Outcome
from connector.leads.service import LeadService


_LISTED = ("id", "distribution_state", "status", "partner_account_id", "assigned_user_id", "email", "first_name",
           "last_name", "company_name", "country", "lead_score", "assigned_at", "accepted_at", "pool_until", "created_at")
"""A lead's fields as `list --json` prints them."""


def _service(ctx: click.Context) -> LeadService:
    """One LeadService per invocation, on the configured datastore."""
    if "lead_service" not in ctx.obj:
        loaded = settings(ctx)
        ctx.obj["lead_service"] = lead_service(loaded)
    service: LeadService = ctx.obj["lead_service"]
    return service


@contextmanager
def _refused() -> Iterator[None]:
    """A refused action is a one-line error and exit status 1, not a traceback."""
    try:
        yield
    except LeadError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


def _echo_outcome(outcome: Outcome) -> None:
    holder = f" holder account {outcome.account_id}" if outcome.account_id is not None else ""
    rep = f" user {outcome.user_id}" if outcome.user_id is not None else ""
    group = f" group {outcome.group_id}" if outcome.group_id is not None else ""
    click.echo(f"lead {outcome.prospect_id}: {outcome.state} ({outcome.status}){holder}{rep}{group} - {outcome.reason}")


user_option = click.option("--user", "user_email", required=True, help="The acting partner user's email.")


@click.group("leads")
def leads_group() -> None:
    """Lead distribution: rules, assignment, shark tank, inbox."""


@leads_group.command("distribute")
@click.argument("lead_ids", nargs=-1, type=int)
@click.option("--new", "all_new", is_flag=True, help="Every lead not distributed yet.")
@click.option("--limit", default=100, show_default=True, help="With --new: at most this many.")
@click.pass_context
def distribute(ctx: click.Context, lead_ids: tuple[int, ...], all_new: bool, limit: int) -> None:
    """Run the rules on leads (named accounts, round robin, shark tank, direct, fallback)."""
    if not lead_ids and not all_new:
        raise click.UsageError("name lead ids or use --new")
    service = _service(ctx)
    with _refused():
        outcomes = service.distribute_new(limit) if all_new else [service.distribute(i) for i in lead_ids]
    for outcome in outcomes:
        _echo_outcome(outcome)


@leads_group.command("assign")
@click.argument("lead_id", type=int)
@click.option("--to", "target", required=True, help="user:EMAIL, account:NAME or group:NAME (or an id).")
@click.option("--reason", required=True, help="Why this partner (kept in the history).")
@click.option("--access-type", type=click.Choice(["Read-Only", "Read-Write"]), help="Default: the configured one.")
@click.pass_context
def assign(ctx: click.Context, lead_id: int, target: str, reason: str, access_type: str | None) -> None:
    """Assign a lead directly to a partner user, account or group."""
    with _refused():
        _echo_outcome(_service(ctx).assign(lead_id, target, reason=reason, access_type=access_type))


@leads_group.command("claim")
@click.argument("lead_id", type=int)
@user_option
@click.pass_context
def claim(ctx: click.Context, lead_id: int, user_email: str) -> None:
    """Claim a shark-tank lead for the user's partner (the first claim wins)."""
    service = _service(ctx)
    with _refused():
        _echo_outcome(service.claim(lead_id, service.user_id(user_email)))


@leads_group.command("accept")
@click.argument("lead_id", type=int)
@user_option
@click.pass_context
def accept(ctx: click.Context, lead_id: int, user_email: str) -> None:
    """Accept an assigned lead."""
    service = _service(ctx)
    with _refused():
        _echo_outcome(service.accept(lead_id, service.user_id(user_email)))


@leads_group.command("reject")
@click.argument("lead_id", type=int)
@user_option
@click.option("--reason", required=True)
@click.pass_context
def reject(ctx: click.Context, lead_id: int, user_email: str, reason: str) -> None:
    """Reject an assigned lead with a reason; it is redistributed to another partner."""
    service = _service(ctx)
    with _refused():
        _echo_outcome(service.reject(lead_id, service.user_id(user_email), reason))


@leads_group.command("pullback")
@click.argument("lead_id", type=int)
@click.option("--reason", required=True)
@click.pass_context
def pullback(ctx: click.Context, lead_id: int, reason: str) -> None:
    """Take a lead back from its holder and redistribute it to another partner."""
    with _refused():
        _echo_outcome(_service(ctx).pullback(lead_id, reason, actor="cli"))


@leads_group.command("expire")
@click.pass_context
def expire(ctx: click.Context) -> None:
    """Apply the fallback to shark-tank leads whose window closed unclaimed."""
    for outcome in _service(ctx).expire_pools():
        _echo_outcome(outcome)


@leads_group.command("show")
@click.argument("lead_id", type=int)
@click.pass_context
def show(ctx: click.Context, lead_id: int) -> None:
    """A lead: where it stands, who sees it, its histories and its partner list."""
    service = _service(ctx)
    with _refused():
        details = service.details(lead_id)
        partners = service.partner_list(lead_id)
    p = details.prospect
    click.echo(f"lead {p.id}: {' '.join(x for x in (p.first_name, p.last_name) if x)} <{p.email or ''}> "
               f"{p.company_name or ''} [{p.country or '-'}/{p.state or '-'}]")
    click.echo(f"  state {p.distribution_state}, status {p.status}, holder account {p.partner_account_id}, "
               f"user {p.assigned_user_id}, pool until {p.pool_until}, previous holders {p.previous_holder_ids}")
    click.echo("grants:")
    for g in details.grants:
        click.echo(f"  {g.assignee_type} {g.assignee_id} {g.access_type} since {g.assigned_at:%Y-%m-%d %H:%M} "
                   f"({g.reason})")
    click.echo("status history:")
    for h in details.status_history:
        click.echo(f"  {h.at:%Y-%m-%d %H:%M} {h.previous_status} -> {h.status} by {h.actor}: {h.reason}")
    click.echo("assignment history:")
    for a in details.assignment_history:
        click.echo(f"  {a.at:%Y-%m-%d %H:%M} {a.action} {a.assignee_type} {a.assignee_id} {a.access_type} "
                   f"by {a.actor}: {a.reason}")
    click.echo("activities:")
    for act in details.activities:
        click.echo(f"  {act.at:%Y-%m-%d %H:%M} {act.kind} by {act.actor}: {act.subject or ''}")
    click.echo("partner list:")
    for v in partners:
        why = "; ".join(c.detail for c in (v.failed if not v.eligible else v.checks))
        click.echo(f"  {'IN ' if v.eligible else 'OUT'} {v.name} ({v.tier or 'no tier'}): {why}")


@leads_group.command("list")
@click.option("--user", "user_email", help="What this partner user sees (default: every lead).")
@click.option("--state", help="Only leads in this distribution state (new, assigned, pool, ...).")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per lead.")
@click.pass_context
def list_leads(ctx: click.Context, user_email: str | None, state: str | None, limit: int, as_json: bool) -> None:
    """Leads, newest first: id, distribution state, status, partner account, email, company (tab-separated)."""
    service = _service(ctx)
    with _refused():
        found = (service.visible_prospects(service.user_id(user_email)) if user_email
                 else service.prospects(state, limit))
    chosen = [p for p in found if state is None or p.distribution_state == state][:limit]
    if as_json:
        print_json([{name: getattr(p, name) for name in _LISTED} for p in chosen])
        return
    for p in chosen:
        click.echo(f"{p.id}\t{p.distribution_state}\t{p.status}\t{p.partner_account_id or '-'}\t"
                   f"{p.email or ''}\t{p.company_name or ''}")


@leads_group.group("rules")
def rules_group() -> None:
    """Lead assignment rules."""


@rules_group.command("list")
@click.pass_context
def rules_list(ctx: click.Context) -> None:
    """The rules in the order they are tried."""
    for rule in _service(ctx).rules():
        conditions = {k: getattr(rule, k) for k in (*lead_rules.LIST_FIELDS, *lead_rules.BOUND_FIELDS, "campaign_ids")
                      if getattr(rule, k) not in (None, [])}
        click.echo(f"#{rule.priority} {rule.name} [{'active' if rule.active else 'inactive'}] -> {rule.target_type} "
                   f"{rule.target_id} {rule.model} {rule.access_type or '(default access)'} "
                   f"{' '.join(f'{k}={v}' for k, v in conditions.items()) or 'any lead'}")


@rules_group.command("test")
@click.argument("lead_id", type=int)
@click.pass_context
def rules_test(ctx: click.Context, lead_id: int) -> None:
    """Which rule would fire for this lead, and why each rule does or does not."""
    with _refused():
        decision = _service(ctx).explain_rules(lead_id)
    for verdict in decision.verdicts:
        for line in lead_rules.describe(verdict):
            click.echo(line)
    chosen = decision.chosen
    click.echo(f"=> {chosen.rule.name}" if chosen else "=> no rule fires: the fallback applies")


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@rules_group.command("add")
@click.option("--name", required=True, help="Adding an existing name updates that rule.")
@click.option("--priority", type=int, help="Lower is tried first (default 100).")
@click.option("--target", required=True, help="user:EMAIL, account:NAME or group:NAME (or an id).")
@click.option("--model", type=click.Choice(["direct", "round_robin", "shark_tank"]),
              help="Default: the group's model, or direct.")
@click.option("--access-type", type=click.Choice(["Read-Only", "Read-Write"]))
@click.option("--fallback", type=click.Choice(["open_pool", "manual_review", "round_robin"]),
              help="Shark tank only: what an unclaimed lead does when the window closes.")
@click.option("--inactive", is_flag=True)
@click.option("--country", "countries", multiple=True)
@click.option("--state", "states", multiple=True)
@click.option("--lead-source", "lead_sources", multiple=True)
@click.option("--industry", "industries", multiple=True)
@click.option("--segment", "segments", multiple=True, help="SMB, Mid-Market, Enterprise.")
@click.option("--product", "product_interests", multiple=True)
@click.option("--campaign", "campaign_ids", multiple=True, type=int)
@click.option("--min-employees", type=int)
@click.option("--max-employees", type=int)
@click.option("--min-revenue", type=Decimal)
@click.option("--max-revenue", type=Decimal)
@click.option("--tier", "partner_tiers", multiple=True)
@click.option("--competency", "partner_competencies", multiple=True)
@click.option("--certification", "partner_certifications", multiple=True)
@click.option("--territory", "partner_territory", is_flag=True, help="The partner must cover the lead's country/state.")
@click.pass_context
def rules_add(ctx: click.Context, /, inactive: bool, **options: Any) -> None:
    """Add (or update, by name) an assignment rule. List options repeat or take commas."""
    spec: dict[str, Any] = {"active": not inactive}
    for key, value in options.items():
        if key in lead_rules.LIST_FIELDS:
            if value:
                spec[key] = _split(value)
        elif key == "campaign_ids":
            if value:
                spec[key] = list(value)
        elif value is not None and value is not False:
            spec[key] = value
    with _refused():
        (rule,) = _service(ctx).save_rules([spec])
    click.echo(f"rule {rule.name} saved (#{rule.priority}, {rule.target_type} {rule.target_id}, {rule.model})")


@leads_group.command("sweep")
@click.option("--dry-run", is_flag=True, help="Print the reminders and pullbacks due now; write nothing.")
@click.pass_context
def sweep_command(ctx: click.Context, dry_run: bool) -> None:
    """Lead aging: remind holders before their deadlines and pull back (and redistribute) leads past them."""
    from connector.jobs.aging_sweep import LANE
    from connector.leads.aging import sweep

    loaded = settings(ctx)
    db = database(loaded)
    try:
        if dry_run:
            report = sweep(db, loaded.leads, SystemClock(), dry_run=True)
        else:
            with lane_lease(loaded, db, LANE):  # as the daemon's lane does, so both never sweep at once
                report = sweep(db, loaded.leads, SystemClock())
    finally:
        db.dispose()
    for line in report.lines():
        click.echo(line)
