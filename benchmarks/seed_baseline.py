"""The baseline: a straightforward Litestar backend as the seed described it.

Per-request SQLAlchemy session, SQLite with a busy timeout, the meeting
detected and the bucket upserted inside each request's own transaction, run
by uvicorn in its own process. It is what Muda Meter's hot path is compared
against; it is not part of the app.

    python benchmarks/seed_baseline.py PORT DATABASE_FILE
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from litestar import Litestar, post
from sqlalchemy import ForeignKey, String, UniqueConstraint, create_engine, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class Meeting(Base):
    __tablename__ = "meeting"
    id: Mapped[int] = mapped_column(primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(unique=True)
    ends_at: Mapped[datetime]


class Participant(Base):
    __tablename__ = "participant"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"))
    expires_at: Mapped[datetime]


class EngagementSample(Base):
    __tablename__ = "engagement_sample"
    __table_args__ = (UniqueConstraint("meeting_id", "minute"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"))
    minute: Mapped[datetime]
    speaking: Mapped[int] = mapped_column(default=0)
    engaged: Mapped[int] = mapped_column(default=0)
    disengaged: Mapped[int] = mapped_column(default=0)


def make_sessions(database: str) -> sessionmaker[Session]:
    engine = create_engine(f"sqlite:///{database}", connect_args={"timeout": 5})

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA busy_timeout=5000")

    Base.metadata.create_all(engine)
    return sessionmaker(engine)


def current_meeting(session: Session, now: datetime) -> Meeting:
    start = (now + timedelta(minutes=30)).replace(minute=0, second=0, microsecond=0)
    meeting = session.scalar(select(Meeting).where(Meeting.starts_at == start))
    if meeting is None:
        meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1))
        session.add(meeting)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            meeting = session.scalars(select(Meeting).where(Meeting.starts_at == start)).one()
    return meeting


def participant_for(session: Session, meeting: Meeting, pid: str | None, now: datetime) -> str:
    participant = session.get(Participant, pid) if pid else None
    if participant is None or participant.meeting_id != meeting.id:
        participant = Participant(id=str(uuid.uuid4()), meeting_id=meeting.id, expires_at=now)
        session.add(participant)
    participant.expires_at = now + timedelta(hours=1)
    return participant.id


def build(database: str) -> Litestar:
    sessions = make_sessions(database)

    @post("/visit", status_code=200, sync_to_thread=True)
    def visit(data: dict[str, Any] | None = None) -> dict[str, Any]:
        now = datetime.now(UTC).replace(tzinfo=None)
        with sessions.begin() as session:
            meeting = current_meeting(session, now)
            pid = participant_for(session, meeting, (data or {}).get("participant_id"), now)
            return {"participant_id": pid, "meeting_id": meeting.id}

    @post("/users/status", status_code=200, sync_to_thread=True)
    def status(data: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC).replace(tzinfo=None)
        with sessions.begin() as session:
            meeting = current_meeting(session, now)
            pid = participant_for(session, meeting, data.get("participant_id"), now)
            minute = now.replace(second=0, microsecond=0)
            sample = session.scalar(
                select(EngagementSample).where(
                    EngagementSample.meeting_id == meeting.id, EngagementSample.minute == minute
                )
            )
            if sample is None:
                sample = EngagementSample(
                    meeting_id=meeting.id, minute=minute, speaking=0, engaged=0, disengaged=0
                )
                session.add(sample)
            column = data["status"]
            setattr(sample, column, getattr(sample, column) + 1)
            return {"participant_id": pid, "meeting_id": meeting.id, "status": column}

    return Litestar([visit, status])


if __name__ == "__main__":
    port, database = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(build(database), host="127.0.0.1", port=port, log_level="warning")
