"""Calendar events as meetings, with real exports' quirks (Outlook, Google)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mudameter_desktop.domain.calendar import Calendar, CalendarError

DATA = Path(__file__).parent.parent / "data"
BERLIN = ZoneInfo("Europe/Berlin")


def outlook() -> Calendar:
    return Calendar((DATA / "outlook.ics").read_bytes(), BERLIN)


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_weekly_event_keeps_its_local_time_across_the_dst_change() -> None:
    calendar = outlook()
    before = calendar.event_at(at(2026, 10, 13, 8, 10))  # 10:10 summer time
    after = calendar.event_at(at(2026, 11, 10, 9, 10))  # 10:10 winter time
    assert before is not None
    assert after is not None
    assert (before.title, before.starts_at, before.ends_at) == (
        "Team sync",
        at(2026, 10, 13, 8),
        at(2026, 10, 13, 8, 30),
    )
    assert (after.starts_at, after.ends_at) == (at(2026, 11, 10, 9), at(2026, 11, 10, 9, 30))
    assert before.key != after.key  # one meeting per occurrence


def test_an_exception_date_and_a_moved_occurrence() -> None:
    calendar = outlook()
    assert calendar.event_at(at(2026, 10, 27, 9, 10)) is None  # EXDATE
    assert calendar.event_at(at(2026, 11, 3, 9, 10)) is None  # moved away from 10:00
    moved = calendar.event_at(at(2026, 11, 3, 10, 10))  # to 11:00 winter time
    assert moved is not None
    assert moved.title == "Team sync (moved)"


def test_one_offs_count_and_all_day_cancelled_and_free_events_do_not() -> None:
    calendar = outlook()
    budget = calendar.event_at(at(2026, 10, 21, 14, 59))
    assert budget is not None
    assert budget.title == "Budget review"
    assert calendar.event_at(at(2026, 10, 21, 15)) is None  # its end is not in it
    assert calendar.event_at(at(2026, 10, 22, 10)) is None  # all-day
    assert calendar.event_at(at(2026, 10, 23, 9, 30)) is None  # cancelled
    assert calendar.event_at(at(2026, 10, 23, 12, 30)) is None  # free (transparent)


def test_google_zones_and_floating_times() -> None:
    calendar = Calendar((DATA / "google.ics").read_bytes(), BERLIN)
    retro = calendar.event_at(at(2026, 10, 29, 15, 30))  # 16:30 Berlin, winter time
    assert retro is not None
    assert (retro.starts_at, retro.ends_at) == (at(2026, 10, 29, 15), at(2026, 10, 29, 15, 45))
    floating = calendar.event_at(at(2026, 10, 30, 8, 15))  # 09:15 host time
    assert floating is not None
    assert floating.title == "Floating standup"
    # X-WR-TIMEZONE is the calendar's own zone: a host elsewhere sees Berlin's 09:00.
    kolkata = Calendar((DATA / "google.ics").read_bytes(), ZoneInfo("Asia/Kolkata"))
    elsewhere = kolkata.event_at(at(2026, 10, 30, 8, 15))
    assert elsewhere is not None
    assert elsewhere.title == "Floating standup"


def test_truly_floating_times_are_the_hosts_local_time() -> None:
    data = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r
BEGIN:VEVENT\r
UID:floating-thunderbird\r
SUMMARY:Standup\r
DTSTART:20261030T091500\r
DTEND:20261030T093000\r
END:VEVENT\r
END:VCALENDAR\r
"""
    kolkata = Calendar(data, ZoneInfo("Asia/Kolkata"))
    event = kolkata.event_at(at(2026, 10, 30, 3, 50))  # 09:20 in Kolkata
    assert event is not None
    assert event.starts_at == at(2026, 10, 30, 3, 45)


def test_the_next_start_bounds_how_long_an_answer_holds() -> None:
    calendar = outlook()
    assert calendar.next_start_after(at(2026, 10, 21, 13)) == at(2026, 10, 21, 14)
    assert calendar.next_start_after(at(2026, 10, 24, 0)) is None  # nothing within a day


def test_not_a_calendar_is_a_clear_error() -> None:
    with pytest.raises(CalendarError):
        Calendar(b"<html>login page</html>", BERLIN)
