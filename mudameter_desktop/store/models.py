"""SQLAlchemy 2.0 typed models.

`StatusChange` rows are the source of truth; `EngagementSample` rows are the
per-minute buckets kept incrementally from them (see `domain.buckets`).

The schema's source for Alembic. The running app reads and writes through the
Core mirror in `store.tables` (no ORM at run time: ~10 MB, 0.2-0.4 s); a
schema change changes both, and tests/store/test_core_tables.py compares them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from mudameter_desktop.store.tables import NAMING, UTCDateTime

__all__ = [
    "NAMING",
    "Base",
    "EngagementSample",
    "Meeting",
    "Participant",
    "StatusChange",
    "UTCDateTime",
]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Meeting(Base):
    __tablename__ = "meeting"
    # Ids are never reused, so an exported "meeting 4" never points at another one.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's own shape

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The detected hourly slot; NULL for explicit meetings. Unique, so two
    # concurrent detections of one slot can never create two meetings.
    slot_start: Mapped[datetime | None] = mapped_column(UTCDateTime, unique=True)
    # The calendar event occurrence (a digest); NULL otherwise. Unique: one
    # meeting per occurrence. Explicit meetings have neither key.
    calendar_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    # True once every sample up to `ends_at` is stored; open meetings are
    # settled (their carried-forward minutes written) before they are read.
    complete: Mapped[bool] = mapped_column(default=False, index=True)
    # The sums of its samples, stored when it becomes complete, so trends over
    # thousands of meetings read one row each instead of every minute.
    total_speaking: Mapped[int] = mapped_column(default=0)
    total_engaged: Mapped[int] = mapped_column(default=0)
    total_disengaged: Mapped[int] = mapped_column(default=0)

    participants: Mapped[list[Participant]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", passive_deletes=True
    )


class Participant(Base):
    __tablename__ = "participant"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    # The LAN client's address (NULL for the tray): caps live participants per address.
    client: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str | None] = mapped_column(String(16))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    meeting: Mapped[Meeting] = relationship(back_populates="participants")


class StatusChange(Base):
    __tablename__ = "status_change"
    __table_args__ = (Index("ix_status_change_meeting_at", "meeting_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    participant_id: Mapped[str] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class EngagementSample(Base):
    __tablename__ = "engagement_sample"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True
    )
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    speaking: Mapped[int] = mapped_column(default=0)
    engaged: Mapped[int] = mapped_column(default=0)
    disengaged: Mapped[int] = mapped_column(default=0)
