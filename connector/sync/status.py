"""`upm-connector status`: what every lane is doing, from the datastore alone (no CRM calls)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from connector.config.settings import SHARED_AUTH_TYPES, ScheduleSettings, Settings
from connector.mapping.loader import ProfileError, load_connection_profile
from connector.store.cursors import SyncCursor
from connector.store.database import Database
from connector.store.failures import FailedRecord
from connector.store.outbox import OutboxEntry
from connector.store.tokens import OAuthToken


def next_run(schedule: ScheduleSettings, last: datetime | None) -> datetime | None:
    if last is None:
        return None
    if schedule.every is not None:
        return last + timedelta(seconds=schedule.every)
    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone="UTC").get_next_fire_time(None, last)


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def lane_report(settings: Settings, db: Database) -> Iterator[str]:
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
            yield (f"{name}: {conn.adapter}, mode {mode}, {'enabled' if conn.enabled else 'disabled'}, token {token_state}, "
                   f"outbox pending {pending}, open failures {failures}")
            cursors = session.scalars(select(SyncCursor).where(SyncCursor.connection == name)
                                      .order_by(SyncCursor.crm_object, SyncCursor.module)).all()
            if not cursors:
                yield "  (never synced)"
            for c in cursors:
                yield (f"  {c.module} <-> {c.crm_object}: changes since {_iso(c.changes_at)}, deletes since {_iso(c.deletes_at)}"
                       f"{', NEEDS FULL RESYNC (delete log lost)' if c.needs_reconcile else ''}; last run {_iso(c.last_run_at)}, "
                       f"next {_iso(next_run(conn.schedule, c.last_run_at))}; {c.last_summary or ''}")
