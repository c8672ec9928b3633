"""Round robin: rotate a group's leads across its members, fairly and across restarts.

The group's cursor row (`round_robin_cursors`) remembers the member that got the last lead; the
next lead goes to the first member after it (by position, then id, wrapping round) that is
eligible for that lead. Every always-eligible member is therefore passed by the cursor exactly
once per turn of the rotation: their counts never differ by more than one. The cursor row is
locked while it advances, so processes assigning at once take turns rather than share one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from connector.leads.directory import Member
from connector.leads.errors import NotFound
from connector.leads.locks import lock
from connector.store.distribution import RoundRobinCursor


def lock_cursor(session: Session, group_id: int, now: datetime) -> RoundRobinCursor:
    """The group's cursor, created on first use, locked until the transaction ends."""
    try:
        return lock(session, RoundRobinCursor, group_id)
    except NotFound:
        insert = postgresql_insert if session.connection().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(RoundRobinCursor).values(group_id=group_id, turns=0, updated_at=now)
                        .on_conflict_do_nothing(index_elements=["group_id"]))
        return lock(session, RoundRobinCursor, group_id)


def next_member(session: Session, group_id: int, eligible: Sequence[Member], now: datetime) -> Member | None:
    """Whose turn it is among the group's `eligible` members, the cursor moved to them; None (cursor
    untouched) when none is eligible."""
    if not eligible:
        return None
    cursor = lock_cursor(session, group_id, now)
    ordered = sorted(eligible, key=lambda m: (m.position, m.id))
    chosen = ordered[0]
    if cursor.last_position is not None and cursor.last_member_id is not None:
        last = (cursor.last_position, cursor.last_member_id)
        chosen = next((m for m in ordered if (m.position, m.id) > last), ordered[0])
    cursor.last_position, cursor.last_member_id = chosen.position, chosen.id
    cursor.turns += 1
    cursor.updated_at = now
    return chosen
