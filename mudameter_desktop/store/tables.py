"""The schema, written once, as SQLAlchemy Core tables: what the app reads and writes.

The running app never imports `sqlalchemy.orm` (~10 MB and 0.2-0.4 s at every
start, benchmarks/README.md); the typed models in `store.models` map these
same tables, and Alembic compares migrations against this metadata.

`Meeting`, `Participant`, `StatusChange` and `EngagementSample` here are
column namespaces with the models' names: `Meeting.title` is the column, and
`insert(Meeting)`, `update(Meeting)`, `select(Meeting)` act on the table, so
Core statements read the same as they did with the models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
    text,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite keeps no offset, so values are stored as naive UTC there.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Ids are 64-bit everywhere (SPEC §7): BIGINT on PostgreSQL; on SQLite an
# INTEGER primary key is already 64-bit, and only INTEGER is the rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")
DEFAULT_ROOM_ID = 1  # the room `default`: the desktop app's one room, made by migration 0006

metadata = MetaData(naming_convention=NAMING)

room = Table(
    "room",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    # IANA zone for nearest-hour detection; NULL: the host's own zone (the desktop app).
    Column("timezone", String(64)),
    # Secrets of a team server's room; NULL for the desktop app's room, whose
    # key lives in its settings.
    Column("participant_key", String(128)),
    Column("host_token", String(128)),
    Column("created_at", UTCDateTime, nullable=False),
    # Shared state of the room's writers (services.coordination): the row is
    # the lock, `version` counts committed writes, `last_event_at` keeps
    # event instants strictly increasing across processes, and before
    # `settled_until` every open meeting's minutes are stored.
    Column("version", BigInteger, nullable=False, default=0, server_default=text("0")),
    Column("last_event_at", UTCDateTime),
    Column("settled_until", UTCDateTime),
    sqlite_autoincrement=True,
)

meeting = Table(
    "meeting",
    metadata,
    Column("id", BigId, primary_key=True),
    Column(
        "room_id",
        BigId,
        ForeignKey("room.id", ondelete="CASCADE"),
        nullable=False,
        server_default=text(str(DEFAULT_ROOM_ID)),
    ),
    Column("title", String(200), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False, index=True),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # The detected hourly slot; NULL for explicit meetings. Unique per room, so
    # two concurrent detections of one slot can never create two meetings.
    Column("slot_start", UTCDateTime),
    # The calendar event occurrence (a digest); NULL otherwise. Unique per
    # room: one meeting per occurrence. Explicit meetings have neither key.
    Column("calendar_key", String(64)),
    # True once every sample up to `ends_at` is stored; open meetings are
    # settled (their carried-forward minutes written) before they are read.
    Column("complete", Boolean, nullable=False, default=False, index=True),
    # The sums of its samples, stored when it becomes complete, so trends over
    # thousands of meetings read one row each instead of every minute.
    Column("total_speaking", Integer, nullable=False, default=0),
    Column("total_engaged", Integer, nullable=False, default=0),
    Column("total_disengaged", Integer, nullable=False, default=0),
    UniqueConstraint("room_id", "slot_start", name="uq_meeting_room_slot"),
    Index("ix_meeting_room_calendar_key", "room_id", "calendar_key", unique=True),
    Index("ix_meeting_room_starts_at", "room_id", "starts_at"),
    # Ids are never reused, so an exported "meeting 4" never points at another one.
    sqlite_autoincrement=True,
)

participant = Table(
    "participant",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "meeting_id",
        BigId,
        ForeignKey("meeting.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("kind", String(16), nullable=False),
    # The LAN client's address (NULL for the tray): caps live participants per address.
    Column("client", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("status", String(16)),
    Column("status_at", UTCDateTime),
)

status_change = Table(
    "status_change",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("meeting_id", BigId, ForeignKey("meeting.id", ondelete="CASCADE"), nullable=False),
    Column(
        "participant_id",
        String(36),
        ForeignKey("participant.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("status", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_status_change_meeting_at", "meeting_id", "at"),
)

engagement_sample = Table(
    "engagement_sample",
    metadata,
    Column(
        "meeting_id",
        BigId,
        ForeignKey("meeting.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("minute", UTCDateTime, primary_key=True),
    Column("speaking", Integer, nullable=False, default=0),
    Column("engaged", Integer, nullable=False, default=0),
    Column("disengaged", Integer, nullable=False, default=0),
)

# The desktop app as a client of a team server (SPEC §7): each click is kept here,
# with its own time, until the server acknowledged it (services.team_client).
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True),
    # The room the click goes to: the host link's base URL and slug, never its token.
    Column("server", String(512), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("participant_id", String(36)),  # the host participant known at the click
    Index("ix_outbox_server_id", "server", "id"),
    # Ids are never reused: "oldest first" is "lowest id first", also after a delete.
    sqlite_autoincrement=True,
)

# The room's `local` participant the server gave this app, per room: sent with every
# click, so the host stays one participant of the meeting across restarts.
remote_participant = Table(
    "remote_participant",
    metadata,
    Column("server", String(512), primary_key=True),
    Column("participant_id", String(36), nullable=False),
)


class _Columns:
    """A table's columns as class attributes; the class stands for its table in Core."""

    __table__: ClassVar[Table]

    @classmethod
    def __clause_element__(cls) -> Table:
        return cls.__table__


class Room(_Columns):
    __table__ = room
    id: ClassVar[ColumnElement[int]] = room.c.id
    slug: ClassVar[ColumnElement[str]] = room.c.slug
    name: ClassVar[ColumnElement[str]] = room.c.name
    timezone: ClassVar[ColumnElement[str | None]] = room.c.timezone
    participant_key: ClassVar[ColumnElement[str | None]] = room.c.participant_key
    host_token: ClassVar[ColumnElement[str | None]] = room.c.host_token
    created_at: ClassVar[ColumnElement[datetime]] = room.c.created_at
    version: ClassVar[ColumnElement[int]] = room.c.version
    last_event_at: ClassVar[ColumnElement[datetime | None]] = room.c.last_event_at
    settled_until: ClassVar[ColumnElement[datetime | None]] = room.c.settled_until


class Meeting(_Columns):
    __table__ = meeting
    id: ClassVar[ColumnElement[int]] = meeting.c.id
    room_id: ClassVar[ColumnElement[int]] = meeting.c.room_id
    title: ClassVar[ColumnElement[str]] = meeting.c.title
    starts_at: ClassVar[ColumnElement[datetime]] = meeting.c.starts_at
    ends_at: ClassVar[ColumnElement[datetime]] = meeting.c.ends_at
    created_at: ClassVar[ColumnElement[datetime]] = meeting.c.created_at
    slot_start: ClassVar[ColumnElement[datetime | None]] = meeting.c.slot_start
    calendar_key: ClassVar[ColumnElement[str | None]] = meeting.c.calendar_key
    complete: ClassVar[ColumnElement[bool]] = meeting.c.complete
    total_speaking: ClassVar[ColumnElement[int]] = meeting.c.total_speaking
    total_engaged: ClassVar[ColumnElement[int]] = meeting.c.total_engaged
    total_disengaged: ClassVar[ColumnElement[int]] = meeting.c.total_disengaged


class Participant(_Columns):
    __table__ = participant
    id: ClassVar[ColumnElement[str]] = participant.c.id
    meeting_id: ClassVar[ColumnElement[int]] = participant.c.meeting_id
    kind: ClassVar[ColumnElement[str]] = participant.c.kind
    client: ClassVar[ColumnElement[str | None]] = participant.c.client
    created_at: ClassVar[ColumnElement[datetime]] = participant.c.created_at
    expires_at: ClassVar[ColumnElement[datetime]] = participant.c.expires_at
    status: ClassVar[ColumnElement[str | None]] = participant.c.status
    status_at: ClassVar[ColumnElement[datetime | None]] = participant.c.status_at


class StatusChange(_Columns):
    __table__ = status_change
    id: ClassVar[ColumnElement[int]] = status_change.c.id
    meeting_id: ClassVar[ColumnElement[int]] = status_change.c.meeting_id
    participant_id: ClassVar[ColumnElement[str]] = status_change.c.participant_id
    status: ClassVar[ColumnElement[str]] = status_change.c.status
    at: ClassVar[ColumnElement[datetime]] = status_change.c.at


class EngagementSample(_Columns):
    __table__ = engagement_sample
    meeting_id: ClassVar[ColumnElement[int]] = engagement_sample.c.meeting_id
    minute: ClassVar[ColumnElement[datetime]] = engagement_sample.c.minute
    speaking: ClassVar[ColumnElement[int]] = engagement_sample.c.speaking
    engaged: ClassVar[ColumnElement[int]] = engagement_sample.c.engaged
    disengaged: ClassVar[ColumnElement[int]] = engagement_sample.c.disengaged


class Outbox(_Columns):
    __table__ = outbox
    id: ClassVar[ColumnElement[int]] = outbox.c.id
    server: ClassVar[ColumnElement[str]] = outbox.c.server
    status: ClassVar[ColumnElement[str]] = outbox.c.status
    at: ClassVar[ColumnElement[datetime]] = outbox.c.at
    participant_id: ClassVar[ColumnElement[str | None]] = outbox.c.participant_id


class RemoteParticipant(_Columns):
    __table__ = remote_participant
    server: ClassVar[ColumnElement[str]] = remote_participant.c.server
    participant_id: ClassVar[ColumnElement[str]] = remote_participant.c.participant_id
