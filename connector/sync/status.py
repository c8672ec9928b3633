"""`upm-connector status`: what every lane is doing, from the datastore alone (no CRM calls).

`status_report` gathers, per connection, its lane's state word (from `lane_state`), token, outbox,
open failures, last run and cursors as plain JSON-ready values; the command line renders them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.config.settings import SHARED_AUTH_TYPES, ScheduleSettings, Settings
from connector.mapping.loader import ProfileError, load_connection_profile
from connector.store.cursors import SyncCursor
from connector.store.database import Database
from connector.store.drift import DriftResult
from connector.store.failures import FailedRecord
from connector.store.outbox import OutboxEntry
from connector.store.tokens import OAuthToken
from connector.sync.lane_state import LaneStatus, lane_states


def next_run(schedule: ScheduleSettings, last: datetime | None) -> datetime | None:
    if last is None:
        return None
    if schedule.every is not None:
        return last + timedelta(seconds=schedule.every)
    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone="UTC").get_next_fire_time(None, last)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _lane(status: LaneStatus) -> dict[str, Any]:
    run = status.run
    return {"lane": status.lane, "connection": status.connection, "state": status.state.value,
            "reason": status.reason, "holder": status.holder,
            "last_run": {key: (_iso(value) if isinstance(value, datetime) else value)
                         for key, value in run.items() if key not in ("lane", "connection")} or None}


def _drift(session: Session, connection: str) -> dict[str, Any] | None:
    """The connection's latest drift report, summed up (None: never run)."""
    result = session.scalars(select(DriftResult).where(DriftResult.connection == connection)
                             .order_by(DriftResult.id.desc()).limit(1)).first()
    if result is None:
        return None
    objects = result.report.get("objects", [])
    totals = {key: sum(o.get(key, 0) for o in objects)
              for key in ("missing_in_upm", "missing_in_crm", "differing", "unmappable")}
    return {"at": _iso(result.finished_at), "in_sync": result.in_sync, **totals}


def status_report(settings: Settings, db: Database, now: datetime) -> dict[str, Any]:
    """Every connection (adapter, mode, token, outbox, failures, its sync lane, cursors) and every
    other lane that ran (jobs), as JSON-ready values."""
    lanes = {status.lane: _lane(status) for status in lane_states(settings, db, now)}
    connections = []
    with db.session() as session:
        for name, conn in settings.connections.items():
            try:
                mode = load_connection_profile(settings, name).profile.mode
            except ProfileError as exc:
                mode = f"INVALID PROFILE ({len(exc.problems)} problem(s): run `mappings check`)"
            token = session.get(OAuthToken, name)
            token_state = "static" if conn.auth.type not in SHARED_AUTH_TYPES else ("no token" if token is None or token.access_token is None and token.status == "ok" else token.status)
            failures = session.scalar(select(func.count()).select_from(FailedRecord)
                                      .where(FailedRecord.connection == name, FailedRecord.status == "open"))
            pending = session.scalar(select(func.count()).select_from(OutboxEntry)
                                     .where(OutboxEntry.connection == name, OutboxEntry.status == "pending"))
            cursors = session.scalars(select(SyncCursor).where(SyncCursor.connection == name)
                                      .order_by(SyncCursor.crm_object, SyncCursor.module)).all()
            connections.append({
                "name": name, "adapter": conn.adapter, "mode": mode, "enabled": conn.enabled, "token": token_state,
                "outbox_pending": pending, "open_failures": failures, "lane": lanes.pop(f"sync:{name}"),
                "drift": _drift(session, name),
                "cursors": [{"module": c.module, "crm_object": c.crm_object, "changes_since": _iso(c.changes_at),
                             "deletes_since": _iso(c.deletes_at), "needs_full_resync": c.needs_reconcile,
                             "last_run": _iso(c.last_run_at), "next_run": _iso(next_run(conn.schedule, c.last_run_at)),
                             "last_summary": c.last_summary} for c in cursors]})
    return {"connections": connections, "lanes": list(lanes.values())}
