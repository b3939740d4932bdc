"""The read side: pages of meetings and one meeting's detail, without the write lock.

Reads run beside writes (SQLite's WAL; PostgreSQL's snapshots). Before each
read the writer is asked to settle, so the carried-forward minutes of open
meetings are stored and the answer equals the definition up to now.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, tzinfo

from sqlalchemy import ColumnElement, Connection, Engine, Row, case, func, select

from mudameter_desktop.domain.participants import handle_of
from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.domain.trends import (
    MIN_RECURRENCES,
    Period,
    first_day_of,
    local_midnight,
    wasted_person_hours,
    weekday_and_hour,
)
from mudameter_desktop.services.errors import InvalidInputError, NotFoundError
from mudameter_desktop.services.views import (
    HeatCell,
    MeetingDetail,
    MeetingPage,
    MeetingSummary,
    ParticipantView,
    Sample,
    TitleWaste,
    TrendPoint,
)
from mudameter_desktop.store import statements
from mudameter_desktop.store.tables import (
    DEFAULT_ROOM_ID,
    EngagementSample,
    Meeting,
    Participant,
)

PAGE_SIZE = 20

_MEETING_COLUMNS = (Meeting.id, Meeting.title, Meeting.starts_at, Meeting.ends_at)


class MeetingHistory:
    """Lists and details of meetings, as the API and the history window show them."""

    def __init__(
        self,
        engine: Engine,
        settle: Callable[[], None],
        clock: Callable[[], datetime],
        zone: tzinfo,
        room_id: int = DEFAULT_ROOM_ID,
    ) -> None:
        self._engine = engine
        self._room = Meeting.room_id == room_id
        self._settle = settle
        self._clock = clock
        self._zone = zone

    def list_meetings(self, page: int = 1) -> MeetingPage:
        """Meetings newest first (`starts_at`, then `id`, descending), 20 a page."""
        if page < 1:
            raise InvalidInputError("page must be 1 or more")
        self._settle()
        with self._engine.connect() as connection:
            total = connection.scalar(select(func.count(Meeting.id)).where(self._room)) or 0
            rows = connection.execute(
                select(*_MEETING_COLUMNS)
                .where(self._room)
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
                select(*_MEETING_COLUMNS).where(Meeting.id == meeting_id, self._room)
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
                select(*_MEETING_COLUMNS).where(Meeting.id == meeting_id, self._room)
            ).first()
            if meeting is None:
                raise NotFoundError(f"no meeting {meeting_id}")
            samples = [
                Sample(row.minute, row.speaking, row.engaged, row.disengaged)
                for row in connection.execute(
                    select(*statements.SAMPLE_COLUMNS)
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

    # -- trends -------------------------------------------------------------

    def trends(self, by: Period) -> list[TrendPoint]:
        """Meetings, participant-minutes, muda and waste per local week or month, newest first."""
        groups: dict[date, _Tally] = defaultdict(_Tally)
        for _title, starts_at, totals in self._meeting_totals():
            day = starts_at.astimezone(self._zone).date()
            groups[first_day_of(day, by)].add(totals)
        return [
            TrendPoint(
                local_midnight(first_day, self._zone),
                group.meetings,
                group.counts.total,
                group.counts.muda,
                wasted_person_hours(group.counts),
            )
            for first_day, group in sorted(groups.items(), reverse=True)
        ]

    def heatmap(self) -> list[HeatCell]:
        """Muda by the local weekday and hour meetings start in (cells with meetings only)."""
        groups: dict[tuple[int, int], _Tally] = defaultdict(_Tally)
        for _title, starts_at, totals in self._meeting_totals():
            groups[weekday_and_hour(starts_at, self._zone)].add(totals)
        return [
            HeatCell(weekday, hour, group.meetings, group.counts.total, group.counts.muda)
            for (weekday, hour), group in sorted(groups.items())
        ]

    def wasteful_titles(self, limit: int = 10) -> list[TitleWaste]:
        """Recurring titles by the person-hours their meetings wasted, most first."""
        groups: dict[str, _Tally] = defaultdict(_Tally)
        for title, _starts_at, totals in self._meeting_totals():
            groups[title].add(totals)
        wastes = [
            TitleWaste(
                title,
                group.meetings,
                group.counts.total,
                group.counts.muda,
                wasted_person_hours(group.counts),
            )
            for title, group in groups.items()
            if group.meetings >= MIN_RECURRENCES
        ]
        wastes.sort(key=lambda waste: (-waste.wasted_person_hours, waste.title))
        return wastes[:limit]

    def _meeting_totals(self) -> list[tuple[str, datetime, tuple[int, int, int]]]:
        """Every meeting's title, start and totals: one aggregate query."""
        self._settle()

        def total(stored: ColumnElement[int], column: ColumnElement[int]) -> ColumnElement[int]:
            """Stored for complete meetings; summed from the samples of the few open ones."""
            summed = (
                select(func.coalesce(func.sum(column), 0))
                .where(EngagementSample.meeting_id == Meeting.id)
                .scalar_subquery()
            )
            return case((Meeting.complete, stored), else_=summed)

        query = select(
            Meeting.title,
            Meeting.starts_at,
            total(Meeting.total_speaking, EngagementSample.speaking),
            total(Meeting.total_engaged, EngagementSample.engaged),
            total(Meeting.total_disengaged, EngagementSample.disengaged),
        ).where(self._room)
        with self._engine.connect() as connection:
            return [
                (title, starts_at, (speaking, engaged, disengaged))
                for title, starts_at, speaking, engaged, disengaged in connection.execute(query)
            ]


class _Tally:
    """Meetings and their summed counts, added up one meeting at a time."""

    __slots__ = ("disengaged", "engaged", "meetings", "speaking")

    def __init__(self) -> None:
        self.meetings = self.speaking = self.engaged = self.disengaged = 0

    def add(self, totals: tuple[int, int, int]) -> None:
        self.meetings += 1
        self.speaking += totals[0]
        self.engaged += totals[1]
        self.disengaged += totals[2]

    @property
    def counts(self) -> Counts:
        return Counts(self.speaking, self.engaged, self.disengaged)


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
