"""`upm-connector reconcile CONNECTION --report`: the drift report (counts, ids missing on either
side, field differences through the mapping), without writing to UPM or the CRM; the result is
kept as the connection's latest drift result, which `status` shows."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from connector.cli.context import migrated_engine
from connector.cli.output import console, print_json
from connector.clock import SystemClock


@click.command()
@click.argument("connection")
@click.option("--report", "report_only", is_flag=True, help="Compare and report only (required: nothing is repaired).")
@click.option("--object", "only", help="One mapped object (UPM module or CRM object).")
@click.option("--json", "as_json", is_flag=True, help="The whole report as one JSON document.")
@click.pass_context
def reconcile(ctx: click.Context, connection: str, report_only: bool, only: str | None, as_json: bool) -> None:
    """Compare CONNECTION's CRM with UPM and report the drift (as Heroku Connect's drift detection)."""
    from connector.sync.drift import drift_report, save_result

    if not report_only:
        raise click.UsageError("reconcile only reports (--report); to repair, run `resync CONNECTION --full`")
    _db, engine = migrated_engine(ctx, connection)
    clock = SystemClock()
    started = clock.now()
    try:
        report = drift_report(engine, only)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    save_result(engine, report, started, clock.now())
    if as_json:
        print_json(report)
        return
    _print(report)


def _print(report: dict[str, Any]) -> None:
    out = console()
    table = Table("object", "CRM", "UPM", "bound", "missing in UPM", "missing in CRM", "differing", "unmappable",
                  title=f"drift {report['connection']}: {'in sync' if report['in_sync'] else 'DRIFTED'}")
    for o in report["objects"]:
        table.add_row(f"{o['module']} <-> {o['crm_object']}", str(o["crm_records"]), str(o["upm_records"]),
                      str(o["bound"]), str(o["missing_in_upm"]), str(o["missing_in_crm"]), str(o["differing"]),
                      str(o["unmappable"]))
    out.print(table)
    for o in report["objects"]:
        for crm_id in o["missing_in_upm_ids"]:
            out.print(f"{o['module']}: CRM {crm_id} is not in UPM")
        for item in o["missing_in_crm_ids"]:
            out.print(f"{o['module']}: UPM {item['record_id']} (bound to {item['crm_id']}) is not in the CRM")
        for item in o["differences"]:
            detail = item.get("error") or "; ".join(f"{k}: UPM {v['upm']!r} / CRM {v['crm']!r}"
                                                    for k, v in item["fields"].items())
            out.print(f"{o['module']}: UPM {item['record_id']} / CRM {item['crm_id']}: {detail}")
