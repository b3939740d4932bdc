"""What the use cases return: plain frozen dataclasses, never ORM rows.

Field names match the HTTP API's JSON, so the API can serialise them as they
are; the UI reads them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


@dataclass(frozen=True, slots=True)
class ParticipantView:
    id: str
    kind: str
    created_at: datetime
    expires_at: datetime
    status: Status | None
    status_at: datetime | None


@dataclass(frozen=True, slots=True)
class MeetingDetail(MeetingSummary):
    participants: list[ParticipantView]
    engagement_samples: list[Sample]


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
    meeting: MeetingView
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StatusRecorded:
    participant_id: str
    meeting_id: int
    status: Status
    minute: datetime
    expires_at: datetime
    bucket: Sample
