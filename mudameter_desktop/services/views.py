"""What the use cases return: plain frozen dataclasses, never ORM rows.

Field names match the HTTP API's JSON, so the API can serialise them as they
are; the UI reads them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mudameter_desktop.domain.meetings import MeetingPlan
from mudameter_desktop.domain.statuses import Counts, Status


@dataclass(frozen=True, slots=True)
class MeetingView:
    id: int
    title: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class MeetingSummary(MeetingView):
    participant_count: int
    totals: Counts
    muda: float | None


@dataclass(frozen=True, slots=True)
class Sample:
    minute: datetime
    speaking: int
    engaged: int
    disengaged: int

    @classmethod
    def of(cls, minute: datetime, counts: Counts) -> Sample:
        return cls(minute, counts.speaking, counts.engaged, counts.disengaged)

    @property
    def counts(self) -> Counts:
        return Counts(self.speaking, self.engaged, self.disengaged)


@dataclass(frozen=True, slots=True)
class ParticipantView:
    handle: str  # public; the secret id goes only to its own client
    kind: str
    created_at: datetime
    expires_at: datetime
    status: Status | None
    status_at: datetime | None


@dataclass(frozen=True, slots=True)
class MeetingDetail(MeetingSummary):
    participants: list[ParticipantView]
    engagement_samples: list[Sample]
    room: Counts  # room now: each live participant once, under their current status


@dataclass(frozen=True, slots=True)
class MeetingPage:
    items: list[MeetingSummary]
    page: int
    page_size: int
    total: int
    pages: int


@dataclass(frozen=True, slots=True)
class Visit:
    participant_id: str
    handle: str
    meeting: MeetingView
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StatusRecorded:
    participant_id: str
    handle: str
    meeting_id: int
    status: Status
    minute: datetime
    expires_at: datetime
    bucket: Sample


@dataclass(frozen=True, slots=True)
class LiveView:
    """What the tray shows now, from the service's own state (nothing is created).

    `meeting` is the meeting a click goes to now, or None when that click
    would create it: then `plan` is the hourly slot it would create.
    """

    meeting: MeetingView | None
    plan: MeetingPlan | None
    running: bool  # False after "End meeting now" until the next meeting
    room: Counts  # room now: each live participant once, under their current status
    status: Status | None  # the asking participant's current status
    totals: Counts  # the meeting's participant-minutes so far
    recent: tuple[Counts, ...]  # the last complete minutes' buckets, oldest first

    @property
    def muda(self) -> float | None:
        return self.totals.muda


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One week or month of meetings (periods in the host's zone)."""

    period_start: datetime  # the local period's first instant, as an aware UTC time
    meetings: int
    participant_minutes: int
    muda: float | None
    wasted_person_hours: float


@dataclass(frozen=True, slots=True)
class HeatCell:
    """Meetings starting on one weekday (0 = Monday) in one local hour."""

    weekday: int
    hour: int
    meetings: int
    participant_minutes: int
    muda: float | None


@dataclass(frozen=True, slots=True)
class TitleWaste:
    """A title that recurs (two meetings or more), with what its meetings wasted."""

    title: str
    meetings: int
    participant_minutes: int
    muda: float | None
    wasted_person_hours: float
