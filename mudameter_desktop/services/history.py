"""The read side: pages of meetings and one meeting's detail, without the write lock.

Reads run beside writes (SQLite's WAL; PostgreSQL's snapshots). Before each
read the writer is asked to settle, so the carried-forward minutes of open
meetings are stored and the answer equals the definition up to now.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, Row, func, select

from mudameter_desktop.domain.participants import handle_of
from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.services.errors import InvalidInputError, NotFoundError
from mudameter_desktop.services.views import (
    MeetingDetail,
    MeetingPage,
    MeetingSummary,
    ParticipantView,
    Sample,
)
from mudameter_desktop.store.models import EngagementSample, Meeting, Participant

PAGE_SIZE = 20

_MEETING_COLUMNS = (Meeting.id, Meeting.title, Meeting.starts_at, Meeting.ends_at)


class MeetingHistory:
    """Lists and details of meetings, as the API and the history window show them."""

    def __init__(
        self,
        engine: Engine,
        settle: Callable[[], None],
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._settle = settle
        self._clock = clock

    def list_meetings(self, page: int = 1) -> MeetingPage:
        """Meetings newest first (`starts_at`, then `id`, descending), 20 a page."""
        if page < 1:
            raise InvalidInputError("page must be 1 or more")
        self._settle()
        with self._engine.connect() as connection:
            total = connection.scalar(select(func.count(Meeting.id))) or 0
            rows = connection.execute(
                select(*_MEETING_COLUMNS)
                .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
                .offset((page - 1) * PAGE_SIZE)
                .limit(PAGE_SIZE)
            ).all()
            items = _summaries(connection, rows)
        return MeetingPage(items, page, PAGE_SIZE, total, math.ceil(total / PAGE_SIZE))

    def summary(self, meeting_id: int) -> MeetingSummary:
        """One meeting's line of the history (one short read)."""
        self._settle()
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(*_MEETING_COLUMNS).where(Meeting.id == meeting_id)
            ).all()
            if not rows:
                raise NotFoundError(f"no meeting {meeting_id}")
            return _summaries(connection, rows)[0]

    def meeting_detail(self, meeting_id: int) -> MeetingDetail:
        """One meeting with its participants, samples and the room now, in one snapshot."""
        self._settle()
        now = self._clock()
        with self._engine.connect() as connection, connection.begin():
            meeting = connection.execute(
                select(*_MEETING_COLUMNS).where(Meeting.id == meeting_id)
            ).first()
            if meeting is None:
                raise NotFoundError(f"no meeting {meeting_id}")
            samples = [
                Sample(row.minute, row.speaking, row.engaged, row.disengaged)
                for row in connection.execute(
                    select(
                        EngagementSample.minute,
                        EngagementSample.speaking,
                        EngagementSample.engaged,
                        EngagementSample.disengaged,
                    )
                    .where(EngagementSample.meeting_id == meeting_id)
                    .order_by(EngagementSample.minute)
                )
            ]
            participants = [
                ParticipantView(
                    handle_of(row.id),
                    row.kind,
                    row.created_at,
                    row.expires_at,
                    Status(row.status) if row.status else None,
                    row.status_at,
                )
                for row in connection.execute(
                    select(
                        Participant.id,
                        Participant.kind,
                        Participant.created_at,
                        Participant.expires_at,
                        Participant.status,
                        Participant.status_at,
                    )
                    .where(Participant.meeting_id == meeting_id)
                    .order_by(Participant.created_at, Participant.id)
                )
            ]
        totals = sum((sample.counts for sample in samples), Counts())
        running = now < meeting.ends_at
        room = Counts.of(
            [p.status for p in participants if p.status and running and p.expires_at > now]
        )
        return MeetingDetail(
            meeting.id,
            meeting.title,
            meeting.starts_at,
            meeting.ends_at,
            len(participants),
            totals,
            totals.muda,
            participants,
            samples,
            room,
        )


def _summaries(
    connection: Connection, rows: Sequence[Row[int, str, datetime, datetime]]
) -> list[MeetingSummary]:
    meetings = rows
    ids = [meeting.id for meeting in meetings]
    counts = dict(
        connection.execute(
            select(Participant.meeting_id, func.count(Participant.id))
            .where(Participant.meeting_id.in_(ids))
            .group_by(Participant.meeting_id)
        ).all()
    )
    totals = {
        meeting_id: Counts(int(speaking), int(engaged), int(disengaged))
        for meeting_id, speaking, engaged, disengaged in connection.execute(
            select(
                EngagementSample.meeting_id,
                func.sum(EngagementSample.speaking),
                func.sum(EngagementSample.engaged),
                func.sum(EngagementSample.disengaged),
            )
            .where(EngagementSample.meeting_id.in_(ids))
            .group_by(EngagementSample.meeting_id)
        )
    }
    summaries = []
    for meeting in meetings:
        meeting_totals = totals.get(meeting.id, Counts())
        summaries.append(
            MeetingSummary(
                meeting.id,
                meeting.title,
                meeting.starts_at,
                meeting.ends_at,
                counts.get(meeting.id, 0),
                meeting_totals,
                meeting_totals.muda,
            )
        )
    return summaries
