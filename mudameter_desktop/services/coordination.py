"""How a room's writers agree: one process alone (SQLite), or many (PostgreSQL).

`MeterService` keeps what a click needs in memory: the current meeting, live
participants, the open meetings' tallies. With one process on the database
(the desktop app on SQLite) that memory is the truth between transactions,
and a lock in the process serialises writes. With several processes on one
database (a team server) any of them may have written since: the room's row
is then the lock (`SELECT … FOR UPDATE`), its `version` says whether this
process's memory is still current, and `last_event_at` keeps event instants
strictly increasing across processes. Both strategies run the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection, Engine, func, select, update

from mudameter_desktop.services.changes import MeetingChange
from mudameter_desktop.store.tables import Room

# PostgreSQL channel of committed changes: payload "ROOM_ID MEETING_ID KIND".
CHANGES_CHANNEL = "mudameter_changes"


@dataclass(frozen=True, slots=True)
class Entry:
    """What a transaction learns as it takes the room: whether memory holds, the last instant."""

    memory_current: bool
    last_event_at: datetime | None
    settled_until: datetime | None


@dataclass(frozen=True, slots=True)
class Peek:
    """The room read without taking it: whether memory holds, and until when all is stored."""

    memory_current: bool
    settled_until: datetime | None


class Coordination(Protocol):
    shared: bool

    def enter(self, connection: Connection) -> Entry:
        """Take the room for this transaction (serialising its writers).

        From here on, memory is taken to match the database as read under the
        lock: the caller drops it when the entry says it is not current.
        """
        ...

    def leave(self, connection: Connection, now: datetime, settled_until: datetime) -> None:
        """Record this transaction's write before it commits."""
        ...

    def forget(self) -> None:
        """Memory was dropped (a failed transaction): the next entry revalidates."""
        ...

    def announce(self, connection: Connection, changes: Sequence[MeetingChange]) -> None:
        """Tell every process of this transaction's changes once it commits."""
        ...

    def peek(self, engine: Engine) -> Peek | None:
        """The room's state read without taking it; None when memory is the truth."""
        ...


class SingleProcess:
    """The desktop app: one process owns the database, memory is the truth."""

    shared = False

    def enter(self, connection: Connection) -> Entry:
        return Entry(memory_current=True, last_event_at=None, settled_until=None)

    def leave(self, connection: Connection, now: datetime, settled_until: datetime) -> None:
        return None

    def forget(self) -> None:
        return None

    def announce(self, connection: Connection, changes: Sequence[MeetingChange]) -> None:
        return None  # the one process's ChangeHub tells its listeners

    def peek(self, engine: Engine) -> Peek | None:
        return None


class SharedRoom:
    """A team server: every process revalidates its memory against the room's row."""

    shared = True

    def __init__(self, room_id: int) -> None:
        self._room_id = room_id
        self._known_version: int | None = None  # the version this process's memory matches

    def enter(self, connection: Connection) -> Entry:
        row = connection.execute(
            select(Room.version, Room.last_event_at, Room.settled_until)
            .where(Room.id == self._room_id)
            .with_for_update()
        ).one()
        current = row.version == self._known_version
        self._known_version = row.version
        return Entry(current, row.last_event_at, row.settled_until)

    def leave(self, connection: Connection, now: datetime, settled_until: datetime) -> None:
        self._known_version = connection.execute(
            update(Room)
            .where(Room.id == self._room_id)
            .values(version=Room.version + 1, last_event_at=now, settled_until=settled_until)
            .returning(Room.version)
        ).scalar_one()

    def forget(self) -> None:
        self._known_version = None

    def announce(self, connection: Connection, changes: Sequence[MeetingChange]) -> None:
        """`NOTIFY` on `CHANGES_CHANNEL`: delivered to listeners when (and if) it commits."""
        for change in changes:
            payload = f"{self._room_id} {change.meeting_id} {change.kind.value}"
            connection.execute(
                select(func.pg_notify(CHANGES_CHANNEL, payload))  # one row, discarded
            )

    def peek(self, engine: Engine) -> Peek | None:
        with engine.connect() as connection:
            row = connection.execute(
                select(Room.version, Room.settled_until).where(Room.id == self._room_id)
            ).one()
        return Peek(row.version == self._known_version, row.settled_until)


def coordination_for(engine: Engine, room_id: int) -> Coordination:
    """SQLite is the single-process store; any other database may have many writers."""
    return SingleProcess() if engine.dialect.name == "sqlite" else SharedRoom(room_id)
