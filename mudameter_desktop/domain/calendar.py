"""Meetings from a calendar: the event running at a moment, one meeting per occurrence.

Parses an iCalendar file (Outlook, Google and Thunderbird exports) and expands
recurring events with their time zones and exceptions (RRULE, EXDATE,
RECURRENCE-ID) through `icalendar` and `recurring-ical-events`. All-day,
free (TRANSP:TRANSPARENT) and cancelled events are not meetings. Floating
times (no zone) are the host's local time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import icalendar
import recurring_ical_events

from mudameter_desktop.domain.meetings import MAX_TITLE_LENGTH

LOOKAHEAD = timedelta(days=1)  # how far ahead the next event start is looked for
DEFAULT_TITLE = "Calendar event"


class CalendarError(ValueError):
    """The data is not an iCalendar file."""


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One occurrence of a calendar event, as a meeting."""

    key: str  # unique per occurrence: a digest of UID and original start
    title: str
    starts_at: datetime
    ends_at: datetime


class Calendar:
    """A parsed calendar, asked for the event running at a moment."""

    def __init__(self, data: bytes, zone: tzinfo) -> None:
        try:
            self._calendar = icalendar.Calendar.from_ical(data)
        except ValueError as error:
            raise CalendarError(f"not an iCalendar file: {error}") from error
        self._zone = zone

    def event_at(self, moment: datetime) -> CalendarEvent | None:
        """The meeting event running at `moment`; of several, the latest-starting one."""
        events = [
            event
            for event in self._events(moment, moment + timedelta(microseconds=1))
            if event.starts_at <= moment < event.ends_at
        ]
        return max(events, key=lambda event: (event.starts_at, event.key), default=None)

    def next_start_after(self, moment: datetime) -> datetime | None:
        """When the next meeting event starts (within a day), for caching the answer."""
        starts = [
            event.starts_at
            for event in self._events(moment, moment + LOOKAHEAD)
            if event.starts_at > moment
        ]
        return min(starts, default=None)

    def _events(self, start: datetime, stop: datetime) -> list[CalendarEvent]:
        query = recurring_ical_events.of(self._calendar, skip_bad_series=True)
        occurrences = query.between(start.astimezone(self._zone), stop.astimezone(self._zone))
        return [event for item in occurrences if (event := self._meeting(item)) is not None]

    def _meeting(self, item: Any) -> CalendarEvent | None:
        if str(item.get("STATUS", "")).upper() == "CANCELLED":
            return None
        if str(item.get("TRANSP", "")).upper() == "TRANSPARENT":
            return None
        start = item.get("DTSTART")
        if start is None or not isinstance(start.dt, datetime):
            return None  # all-day events are not meetings
        starts_at = self._aware(start.dt)
        end = item.get("DTEND")
        if end is not None and isinstance(end.dt, datetime):
            ends_at = self._aware(end.dt)
        elif item.get("DURATION") is not None:
            ends_at = starts_at + item["DURATION"].dt
        else:
            return None  # an instant, not a meeting
        if ends_at <= starts_at:
            return None
        original = item.get("RECURRENCE-ID")
        identity = f"{item.get('UID', '')}|{self._key_time(original.dt if original else start.dt)}"
        title = " ".join(str(item.get("SUMMARY", "")).split())[:MAX_TITLE_LENGTH]
        return CalendarEvent(
            hashlib.sha256(identity.encode()).hexdigest(),
            title or DEFAULT_TITLE,
            starts_at,
            ends_at,
        )

    def _aware(self, moment: datetime) -> datetime:
        """Floating times are the host's local time."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self._zone)
        return moment.astimezone(UTC)

    def _key_time(self, moment: date | datetime) -> str:
        if isinstance(moment, datetime):
            return self._aware(moment).isoformat()
        return moment.isoformat()
