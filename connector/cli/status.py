"""`upm-connector status`: each connection's lane state, cursors, last run and failures, as tables
for a person or as JSON (`--json`) for scripts."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from connector.cli.context import runtime, settings
from connector.cli.output import console, print_json
from connector.clock import SystemClock

_STATE_STYLES = {"OK": "green", "SYNCING": "cyan", "DISABLED": "dim", "PAUSED_QUOTA": "yellow"}


def _lanes_table(report: dict[str, Any]) -> Table:
    table = Table(title="Lanes", title_justify="left")
    for column in ("Lane", "State", "Reason", "Last run", "Read", "Written", "Failed", "Outbox", "Open failures"):
        table.add_column(column, no_wrap=column in ("Lane", "State"))
    rows = [(c["lane"], c) for c in report["connections"]] + [(lane, None) for lane in report["lanes"]]
    for lane, conn in rows:
        run = lane["last_run"] or {}
        state = lane["state"]
        table.add_row(lane["lane"], f"[{_STATE_STYLES.get(state, 'bold red')}]{state}[/]", lane["reason"],
                      run.get("finished_at") or "-", str(run.get("records_read", "-")),
                      str(run.get("records_written", "-")), str(run.get("records_failed", "-")),
                      str(conn["outbox_pending"]) if conn else "", str(conn["open_failures"]) if conn else "")
    return table


def _cursor_table(conn: dict[str, Any]) -> Table:
    title = (f"{conn['name']}: {conn['adapter']}, mode {conn['mode']}, {'enabled' if conn['enabled'] else 'disabled'}, "
             f"token {conn['token']}, outbox pending {conn['outbox_pending']}, open failures {conn['open_failures']}")
    table = Table(title=title, title_justify="left", min_width=len(title))
    for column in ("Module <-> object", "Changes since", "Deletes since", "Last run", "Next run", "Last counts"):
        table.add_column(column, no_wrap=column != "Last counts")
    for c in conn["cursors"]:
        note = " [bold red]NEEDS FULL RESYNC (delete log lost)[/]" if c["needs_full_resync"] else ""
        table.add_row(f"{c['module']} <-> {c['crm_object']}", c["changes_since"] or "-",
                      (c["deletes_since"] or "-") + note, c["last_run"] or "-", c["next_run"] or "-",
                      c["last_summary"] or "")
    if not conn["cursors"]:
        table.add_row("(never synced)", "-", "-", "-", "-", "")
    return table


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document: per lane its state, cursors, last run, failures.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Each connection's lanes: state, mode, cursors, last and next run, last counts, failures, token state."""
    from connector.store.migrate import upgrade
    from connector.sync.status import status_report

    built = runtime(settings(ctx))
    upgrade(built.db)
    built.refresh_connections()  # the stored partner connections' lanes too
    report = status_report(built.settings, built.db, SystemClock().now())
    if as_json:
        print_json(report)
        return
    out = console()
    out.print(_lanes_table(report))
    for conn in report["connections"]:
        out.print(_cursor_table(conn))
        drift = conn["drift"]
        if drift is not None:
            found = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in drift.items() if k not in ("at", "in_sync"))
            out.print(f"drift report {drift['at']}: {'in sync' if drift['in_sync'] else 'DRIFTED: ' + found}")
