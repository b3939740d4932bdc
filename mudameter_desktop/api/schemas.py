"""Request bodies as msgspec Structs (answers are the service's dataclasses).

Times arrive as strings and are parsed here rather than by msgspec: Litestar
decodes bodies leniently, which would take a number as a Unix time, and the
API wants an ISO 8601 time with an explicit offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import msgspec

from mudameter_desktop.domain.meetings import MAX_DURATION_MINUTES, MAX_TITLE_LENGTH
from mudameter_desktop.domain.statuses import Counts, ParticipantKind, Status
from mudameter_desktop.services import views
from mudameter_desktop.services.meter import MAX_PARTICIPANT_ID_LENGTH

MAX_YEAR = 9998  # later years overflow hour rounding and meeting lengths
# Text without a NUL character: PostgreSQL cannot store one, so it is a 400 on every
# database (SPEC §2) and the answer never depends on the engine.
NO_NUL = r"^[^\x00]*$"

Timestamp = Annotated[
    str,
    msgspec.Meta(
        max_length=64,
        pattern=NO_NUL,  # datetime.fromisoformat() ignores a trailing NUL
        description="ISO 8601 time with an explicit offset, e.g. 2026-11-27T10:00:00Z",
        extra_json_schema={"format": "date-time"},
    ),
]
ParticipantId = Annotated[
    str,
    msgspec.Meta(
        max_length=MAX_PARTICIPANT_ID_LENGTH,
        pattern=NO_NUL,
        description="The id an earlier answer returned; an unknown one gets a new participant",
    ),
]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TITLE_LENGTH, pattern=NO_NUL)]
Duration = Annotated[int, msgspec.Meta(ge=1, le=MAX_DURATION_MINUTES)]


def parse_time(text: str | None) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text; ValueError if naive or out of range."""
    if text is None:
        return None
    if "\x00" in text:  # fromisoformat() would read "…Z\x00" as "…Z"
        raise ValueError("a time cannot contain a NUL character")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"time {text!r} needs an explicit offset such as Z or +01:00")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError as error:  # year 1 with a positive offset is before year 1 in UTC
        raise ValueError(f"time {text!r} is out of range") from error
    if moment.year > MAX_YEAR or utc.year > MAX_YEAR:
        raise ValueError(f"time {text!r} is after the year {MAX_YEAR}")
    return utc


class MeetingRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Detect the meeting at `at` (default now), or start one at `starts_at`."""

    at: Timestamp | None = None
    title: Title | None = None
    starts_at: Timestamp | None = None
    duration_minutes: Duration | None = None

    def __post_init__(self) -> None:
        if self.at is not None and self.starts_at is not None:
            raise ValueError("give either at (detection) or starts_at (explicit start)")
        if self.duration_minutes is not None and self.starts_at is None:
            raise ValueError("duration_minutes needs starts_at")
        parse_time(self.at)
        parse_time(self.starts_at)


class StatusRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    status: Status
    participant_id: ParticipantId | None = None
    # "local": the room's host participant (the person at the tray); the host token only.
    kind: ParticipantKind = ParticipantKind.LAN
    # When a local click was made, for one that waited (the desktop app offline): at most
    # 7 days old; it goes into the meeting of its own time, and sent twice counts once.
    # Checked by the handler, after who may send it (a LAN client gets its 403 first).
    at: Timestamp | None = None


class VisitRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    participant_id: ParticipantId | None = None


class RenameRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    title: Title


class Health(msgspec.Struct):
    status: str
    version: str


@dataclass(frozen=True, slots=True)
class Participant:
    """A participant as a reader sees them: by handle, never by the secret id.

    For a LAN reader only `handle` and `status` are filled (SPEC §3 Anonymity):
    nobody can pick out the host or time a colleague's tap.
    """

    handle: str
    kind: str | None
    created_at: datetime | None
    expires_at: datetime | None
    status: Status | None
    status_at: datetime | None


@dataclass(frozen=True, slots=True)
class MeetingDetail(views.MeetingSummary):
    participants: list[Participant]
    engagement_samples: list[views.Sample]
    room: Counts  # room now: each live participant once, under their current status

    @classmethod
    def for_reader(cls, detail: views.MeetingDetail, is_host: bool) -> MeetingDetail:
        """The detail as the host sees it (everything) or a LAN reader (handles, statuses)."""
        if is_host:
            people = [
                Participant(p.handle, p.kind, p.created_at, p.expires_at, p.status, p.status_at)
                for p in detail.participants
            ]
        else:  # in handle order: the order of arrival would point at the host
            people = [
                Participant(p.handle, None, None, None, p.status, None)
                for p in sorted(detail.participants, key=lambda p: p.handle)
            ]
        return cls(
            detail.id,
            detail.title,
            detail.starts_at,
            detail.ends_at,
            detail.participant_count,
            detail.totals,
            detail.muda,
            people,
            detail.engagement_samples,
            detail.room,
        )


@dataclass(frozen=True, slots=True)
class PlannedMeeting:
    """The hourly slot (or calendar event) a click would create: not in the history yet."""

    title: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Live:
    """The room now, as the desktop app's tray shows it (the service's live view)."""

    meeting: views.MeetingView | None  # the meeting a click goes to now, if it exists yet
    plan: PlannedMeeting | None  # else the slot a click would create
    running: bool  # False after "End meeting now" until the next meeting
    room: Counts  # each live participant once, under their current status
    totals: Counts  # the meeting's participant-minutes so far
    recent: list[Counts]  # the last complete minutes' buckets, oldest first
    muda: float | None

    @classmethod
    def of(cls, view: views.LiveView) -> Live:
        plan = view.plan
        return cls(
            view.meeting,
            PlannedMeeting(plan.title, plan.starts_at, plan.ends_at) if plan else None,
            view.running,
            view.room,
            view.totals,
            list(view.recent),
            view.muda,
        )


@dataclass(frozen=True, slots=True)
class ParticipantKey:
    """The room's participant key: the host's, to show the join link and its QR code."""

    participant_key: str
