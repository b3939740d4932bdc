"""Which meeting a moment belongs to, and how long participants stay alive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the calendar module loads icalendar: only where a calendar is used
    from mudameter_desktop.domain.calendar import CalendarEvent

MEETING_LENGTH = timedelta(minutes=60)
PARTICIPANT_TTL = timedelta(minutes=60)
MINUTE = timedelta(minutes=1)
MAX_DURATION_MINUTES = 1440
MAX_TITLE_LENGTH = 200


def require_aware(moment: datetime) -> datetime:
    """Return `moment` in UTC; naive datetimes are a programming error here."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must carry a time zone")
    return moment.astimezone(UTC)


def floor_minute(moment: datetime) -> datetime:
    """The start of the UTC minute holding `moment`."""
    return require_aware(moment).replace(second=0, microsecond=0)


def nearest_local_hour(moment: datetime, zone: tzinfo) -> datetime:
    """The local-hour boundary nearest to `moment` (hh:30 rounds up), in UTC.

    The arithmetic is done on absolute instants: the local hour started
    `minute:second` ago, and the next one starts an absolute hour later. That
    is DST-safe (a clock change happens on an hour boundary) and works for
    zones with half-hour offsets such as UTC+5:30.
    """
    utc = require_aware(moment)
    local = utc.astimezone(zone)
    into_hour = timedelta(
        minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )
    start = utc - into_hour
    return start + MEETING_LENGTH if into_hour >= timedelta(minutes=30) else start


def default_title(starts_at: datetime, zone: tzinfo) -> str:
    return f"Meeting {require_aware(starts_at).astimezone(zone):%H:%M}"


@dataclass(frozen=True, slots=True)
class MeetingPlan:
    """A meeting to create: a detected hourly slot or an explicit start."""

    title: str
    starts_at: datetime
    ends_at: datetime
    slot_start: datetime | None  # set for detected meetings only (unique per slot)
    calendar_key: str | None = None  # set for calendar events only (unique per occurrence)


def plan_detected(moment: datetime, zone: tzinfo, title: str | None = None) -> MeetingPlan:
    starts_at = nearest_local_hour(moment, zone)
    return MeetingPlan(
        title=title or default_title(starts_at, zone),
        starts_at=starts_at,
        ends_at=starts_at + MEETING_LENGTH,
        slot_start=starts_at,
    )


def plan_explicit(
    starts_at: datetime, zone: tzinfo, title: str | None = None, duration_minutes: int = 60
) -> MeetingPlan:
    """An explicit meeting starts at the exact minute given."""
    if not 1 <= duration_minutes <= MAX_DURATION_MINUTES:
        raise ValueError(f"duration_minutes must be 1-{MAX_DURATION_MINUTES}")
    start = floor_minute(starts_at)
    return MeetingPlan(
        title=title or default_title(start, zone),
        starts_at=start,
        ends_at=start + timedelta(minutes=duration_minutes),
        slot_start=None,
    )


def plan_event(event: CalendarEvent, title: str | None = None) -> MeetingPlan:
    """A calendar occurrence's meeting: its title, its exact start and end."""
    return MeetingPlan(
        title=title or event.title,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        slot_start=None,
        calendar_key=event.key,
    )


@dataclass(frozen=True, slots=True)
class Span:
    """A meeting's time span, as the detection rules need it."""

    id: int
    starts_at: datetime
    ends_at: datetime

    def running_at(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at


def pick_explicit(candidates: list[Span], moment: datetime) -> Span | None:
    """Of the explicit meetings running at `moment`, the latest-starting one wins."""
    running = [span for span in candidates if span.running_at(moment)]
    return max(running, key=lambda span: (span.starts_at, span.id), default=None)


def expiry_after(activity: datetime) -> datetime:
    """Sliding TTL: a participant lives until an hour after their last activity."""
    return require_aware(activity) + PARTICIPANT_TTL


def is_alive(expires_at: datetime, now: datetime) -> bool:
    return require_aware(now) < require_aware(expires_at)
