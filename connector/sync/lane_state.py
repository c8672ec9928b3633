"""A lane's state in words, as Heroku Connect and Kafka Connect show theirs, from the datastore alone.

One function (`lane_states`) derives every lane's state from what the datastore records: the
connection's settings, its token, its cursors, the lane's last run (`lane_runs`) and its lease. Any
replica reading the same database answers the same. Metrics, `/readyz` and `status` read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from connector.config.settings import Settings
from connector.store.cursors import SyncCursor
from connector.store.database import Database
from connector.store.lane_runs import LaneRun
from connector.store.leases import Lease
from connector.store.partner_connections import PartnerConnection
from connector.store.partners import PartnerAccount
from connector.store.tokens import OAuthToken


class LaneState(str, Enum):
    """From the most to the least pressing: a lane shows the first that holds."""

    DISABLED = "DISABLED"
    """The connection is switched off in the configuration."""
    NEEDS_AUTH = "NEEDS_AUTH"
    """The CRM refused the grant: a person runs `upm-connector auth login CONNECTION`."""
    NEEDS_FULL_RESYNC = "NEEDS_FULL_RESYNC"
    """The CRM's delete log no longer reaches back to a cursor: `resync --full`."""
    PAUSED_QUOTA = "PAUSED_QUOTA"
    """The CRM's API allocation is spent; the lane waits until it resets."""
    FAILING = "FAILING"
    """The last run raised (see its error); the lane retries on its schedule."""
    SYNCING = "SYNCING"
    """A daemon holds the lane's lease: a run is under way."""
    OK = "OK"
    """The last run finished (or none has run yet) and nothing above holds."""


@dataclass(frozen=True)
class LaneStatus:
    """A lane's state, why, and the facts behind it (the last run's columns, the lease holder)."""

    lane: str
    connection: str | None
    state: LaneState
    reason: str
    holder: str | None = None
    run: dict[str, Any] = field(default_factory=dict)
    """The lane's `lane_runs` row as a dict (empty: it never ran)."""


def _columns(row: LaneRun | None) -> dict[str, Any]:
    return {} if row is None else {attr.key: getattr(row, attr.key) for attr in inspect(LaneRun).column_attrs}


def derive_state(*, enabled: bool, token_status: str | None, needs_resync: bool, run: dict[str, Any],
                 holder: str | None, now: datetime) -> tuple[LaneState, str]:
    """The state and its reason from the recorded facts (the rule, apart from reading them)."""
    if not enabled:
        return LaneState.DISABLED, "the connection is disabled"
    if token_status == "needs_reauth" or run.get("outcome") == "auth":
        return LaneState.NEEDS_AUTH, "the CRM refused the credentials: run `upm-connector auth login`"
    if needs_resync:
        return LaneState.NEEDS_FULL_RESYNC, "the CRM's delete log no longer reaches the cursor: run `resync --full`"
    resumes = run.get("resumes_at")
    if run.get("outcome") == "quota" and (resumes is None or resumes > now):
        until = f" until {resumes.isoformat(timespec='seconds')}" if resumes else ""
        return LaneState.PAUSED_QUOTA, f"the CRM's API quota is spent{until}"
    if run.get("outcome") == "failed":
        return LaneState.FAILING, f"{run.get('consecutive_failures')} failed run(s) in a row: {run.get('error')}"
    if holder is not None:
        return LaneState.SYNCING, f"running on {holder}"
    return LaneState.OK, "last run finished" if run else "not run yet"


def _lane_status(session: Session, enabled: dict[str, bool], lane: str, connection: str | None,
                 runs: dict[str, LaneRun], holders: dict[str, str], now: datetime) -> LaneStatus:
    run = _columns(runs.get(lane))
    token = session.get(OAuthToken, connection) if connection else None
    needs_resync = connection is not None and bool(session.scalar(
        select(SyncCursor.connection).where(SyncCursor.connection == connection, SyncCursor.needs_reconcile).limit(1)))
    on = enabled.get(connection, True) if connection else True
    state, reason = derive_state(enabled=on, token_status=token.status if token else None,
                                 needs_resync=needs_resync, run=run, holder=holders.get(lane), now=now)
    return LaneStatus(lane, connection, state, reason, holders.get(lane), run)


def _stored_connections(session: Session) -> dict[str, bool]:
    """The partner connections held in the datastore, each enabled while it is and its partner is active."""
    rows = session.execute(select(PartnerConnection.name, PartnerConnection.enabled, PartnerAccount.active)
                           .join(PartnerAccount, PartnerAccount.id == PartnerConnection.partner_account_id))
    return {name: bool(enabled and active) for name, enabled, active in rows}


def lane_states(settings: Settings, db: Database, now: datetime) -> list[LaneStatus]:
    """Every lane: one sync lane per configured connection and per partner connection held in the
    datastore (enabled or not), and every lane that ran. The datastore is read, not the settings'
    copy of the stored connections, so a replica that has not refreshed yet answers the same."""
    with db.session() as session:
        runs = {row.lane: row for row in session.scalars(select(LaneRun))}
        holders = {row.lane: row.owner for row in session.scalars(select(Lease).where(Lease.expires_at > now))}
        enabled = {**{name: conn.enabled for name, conn in settings.connections.items()}, **_stored_connections(session)}
        lanes = {f"sync:{name}": name for name in enabled}
        for lane, row in runs.items():
            lanes.setdefault(lane, row.connection)
        return [_lane_status(session, enabled, lane, lanes[lane], runs, holders, now) for lane in sorted(lanes)]
