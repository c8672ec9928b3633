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

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from connector.leads.directory import Member
from connector.leads.locks import write_transaction
from connector.store.database import read_connection
from connector.store.distribution import RoundRobinCursor

_CURSORS = RoundRobinCursor.__table__
_CURSOR = (select(_CURSORS.c.last_position, _CURSORS.c.last_member_id)
           .where(_CURSORS.c.group_id == bindparam("group")).with_for_update())
_ADVANCE = (update(_CURSORS).where(_CURSORS.c.group_id == bindparam("group"))
            .values(last_position=bindparam("position"), last_member_id=bindparam("member"),
                    turns=_CURSORS.c.turns + 1, updated_at=bindparam("now", type_=_CURSORS.c.updated_at.type)))
"""Built once (their cache keys with them); read and written by Core: every round-robin lead moves
a cursor, and no ORM object of it is needed."""


def lock_cursor(session: Session, group_id: int, now: datetime) -> tuple[int | None, int | None]:
    """Where the group's rotation stands (the last member's position and id), its cursor row created
    on first use and locked until the transaction ends."""
    write_transaction(session)
    connection = read_connection(session)
    found = connection.execute(_CURSOR, {"group": group_id}).first()
    if found is None:
        insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(insert(RoundRobinCursor).values(group_id=group_id, turns=0, updated_at=now)
                           .on_conflict_do_nothing(index_elements=["group_id"]))
        found = connection.execute(_CURSOR, {"group": group_id}).one()
    return found[0], found[1]


def next_member(session: Session, group_id: int, eligible: Sequence[Member], now: datetime) -> Member | None:
    """Whose turn it is among the group's `eligible` members, the cursor moved to them; None (cursor
    untouched) when none is eligible."""
    if not eligible:
        return None
    last_position, last_member_id = lock_cursor(session, group_id, now)
    ordered = sorted(eligible, key=lambda m: (m.position, m.id))
    chosen = ordered[0]
    if last_position is not None and last_member_id is not None:
        last = (last_position, last_member_id)
        chosen = next((m for m in ordered if (m.position, m.id) > last), ordered[0])
    session.connection().execute(_ADVANCE, {"group": group_id, "position": chosen.position, "member": chosen.id,
                                            "now": now})
    return chosen
