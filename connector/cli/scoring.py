"""`upm-connector scoring`: the lead scoring rules (`rules set FILE`, `rules list`) and a lead's
score history (`history LEAD`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml
from rich.table import Table
from sqlalchemy import select

from connector.cli.context import database, settings
from connector.cli.output import console, print_json
from connector.leads.scoring import ScoringRulesError, history, parse_rules, save_rules
from connector.store.migrate import upgrade
from connector.store.records import Prospect
from connector.store.scoring import ScoringRule, ScoringSetting


def _rule_json(rule: ScoringRule) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rule.name, "points": rule.points, "active": rule.active}
    if rule.event:
        out.update(event=rule.event, campaign=rule.campaign_id)
    elif rule.field == "size":
        out.update(field="size", min=rule.min_value, max=rule.max_value)
    else:
        out.update({"field": rule.field, "contains" if rule.field == "title" else "in": rule.values})
    return out


@click.group("scoring")
def scoring_group() -> None:
    """Lead scoring rules and score history."""


@scoring_group.group("rules")
def rules_group() -> None:
    """The scoring rules and the high-score threshold."""


@rules_group.command("set")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def rules_set(ctx: click.Context, file: Path) -> None:
    """Replace the scoring rules with FILE's (YAML: `threshold` and `rules`)."""
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark else str(file)
        raise click.UsageError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    try:
        threshold, specs = parse_rules(document, str(file))
    except ScoringRulesError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        ctx.exit(2)
    db = database(settings(ctx))
    upgrade(db)
    with db.session() as session:
        saved = save_rules(session, threshold, specs)
    click.echo(f"{len(saved)} scoring rules saved; high-score threshold "
               f"{threshold if threshold is not None else 'off'}")


@rules_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document: threshold and rules.")
@click.pass_context
def rules_list(ctx: click.Context, as_json: bool) -> None:
    """The scoring rules, in the format `rules set` reads."""
    db = database(settings(ctx))
    upgrade(db)
    with db.session() as session:
        rules = [_rule_json(r) for r in session.scalars(select(ScoringRule).order_by(ScoringRule.id))]
        setting = session.get(ScoringSetting, 1)
        threshold = setting.high_score_threshold if setting else None
    if as_json:
        print_json({"threshold": threshold, "rules": rules})
        return
    table = Table("name", "points", "when", "active", title=f"high-score threshold: {threshold or 'off'}")
    for rule in rules:
        when = {k: v for k, v in rule.items() if k not in ("name", "points", "active") and v is not None}
        table.add_row(rule["name"], str(rule["points"]), ", ".join(f"{k} {v}" for k, v in when.items()),
                      "yes" if rule["active"] else "no")
    console().print(table)


@scoring_group.command("history")
@click.argument("lead", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def score_history(ctx: click.Context, lead: int, as_json: bool) -> None:
    """LEAD's score changes, oldest first (rule, campaign, points)."""
    db = database(settings(ctx))
    upgrade(db)
    with db.session() as session:
        if session.get(Prospect, lead) is None:
            raise click.UsageError(f"lead {lead} does not exist")
        rows = [{"at": h.at, "rule": h.rule, "campaign_id": h.campaign_id, "points": h.score}
                for h in history(session, lead)]
    if as_json:
        print_json(rows)
        return
    table = Table("at", "rule", "campaign", "points")
    for row in rows:
        table.add_row(row["at"].isoformat(), row["rule"] or "", str(row["campaign_id"] or ""), f"{row['points']:+d}")
    console().print(table)
