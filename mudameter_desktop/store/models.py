"""SQLAlchemy 2.0 typed models over the Core schema in `store.tables`.

`StatusChange` rows are the source of truth; `EngagementSample` rows are the
per-minute buckets kept incrementally from them (see `domain.buckets`).

The schema is written once, as Core tables (`store.tables`): the running app
reads and writes through them and never imports `sqlalchemy.orm` (~10 MB,
0.2-0.4 s at every start). These models map those same tables (declarative
with an imperative table) for typed ORM access in tests and tools; Alembic
compares migrations against the same metadata.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import DeclarativeBase, Mapped, relationship

from mudameter_desktop.store import tables
from mudameter_desktop.store.tables import NAMING, UTCDateTime

__all__ = [
    "NAMING",
    "Base",
    "EngagementSample",
    "Meeting",
    "Outbox",
    "Participant",
    "RemoteParticipant",
    "Room",
    "StatusChange",
    "UTCDateTime",
]


class Base(DeclarativeBase):
    metadata = tables.metadata


class Room(Base):
    __table__ = tables.room

    id: Mapped[int]
    slug: Mapped[str]
    name: Mapped[str]
    timezone: Mapped[str | None]
    participant_key: Mapped[str | None]
    host_token: Mapped[str | None]
    created_at: Mapped[datetime]
    version: Mapped[int]
    last_event_at: Mapped[datetime | None]
    settled_until: Mapped[datetime | None]


class Meeting(Base):
    __table__ = tables.meeting

    id: Mapped[int]
    room_id: Mapped[int]
    title: Mapped[str]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_at: Mapped[datetime]
    slot_start: Mapped[datetime | None]
    calendar_key: Mapped[str | None]
    complete: Mapped[bool]
    total_speaking: Mapped[int]
    total_engaged: Mapped[int]
    total_disengaged: Mapped[int]

    participants: Mapped[list[Participant]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", passive_deletes=True
    )


class Participant(Base):
    __table__ = tables.participant

    id: Mapped[str]
    meeting_id: Mapped[int]
    kind: Mapped[str]
    client: Mapped[str | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str | None]
    status_at: Mapped[datetime | None]

    meeting: Mapped[Meeting] = relationship(back_populates="participants")


class StatusChange(Base):
    __table__ = tables.status_change

    id: Mapped[int]
    meeting_id: Mapped[int]
    participant_id: Mapped[str]
    status: Mapped[str]
    at: Mapped[datetime]


class EngagementSample(Base):
    __table__ = tables.engagement_sample

    meeting_id: Mapped[int]
    minute: Mapped[datetime]
    speaking: Mapped[int]
    engaged: Mapped[int]
    disengaged: Mapped[int]


class Outbox(Base):
    __table__ = tables.outbox

    id: Mapped[int]
    server: Mapped[str]
    status: Mapped[str]
    at: Mapped[datetime]
    participant_id: Mapped[str | None]


class RemoteParticipant(Base):
    __table__ = tables.remote_participant

    server: Mapped[str]
    participant_id: Mapped[str]
