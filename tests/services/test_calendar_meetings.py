"""Detection with a calendar: explicit, then the calendar event, then the hourly slot."""

from __future__ import annotations

import functools
import os
import shutil
import threading
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.services.calendar import CalendarSource
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore
from tests.conftest import FakeClock

DATA = Path(__file__).parent.parent / "data"
BERLIN = ZoneInfo("Europe/Berlin")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def calendar_file(tmp_path: Path) -> Path:
    path = tmp_path / "calendar.ics"
    shutil.copy(DATA / "outlook.ics", path)
    return path


@pytest.fixture
def source(calendar_file: Path) -> CalendarSource:
    return CalendarSource(str(calendar_file), BERLIN)


@pytest.fixture
def with_calendar(store: OpenedStore, clock: FakeClock, source: CalendarSource) -> MeterService:
    return MeterService(store.engine, BERLIN, clock=clock, calendar=source)


def test_calendar_events_become_meetings_one_per_occurrence(with_calendar: MeterService) -> None:
    first, created = with_calendar.detect_meeting(at(10, 13, 8, 5))
    assert created
    assert (first.title, first.starts_at, first.ends_at) == (
        "Team sync",
        at(10, 13, 8),
        at(10, 13, 8, 30),
    )
    again, created_again = with_calendar.detect_meeting(at(10, 13, 8, 25))
    assert (again, created_again) == (first, False)
    winter, _ = with_calendar.detect_meeting(at(11, 10, 9, 5))  # the same 10:00, after DST
    assert winter.starts_at == at(11, 10, 9)
    assert winter.id != first.id


def test_exceptions_all_day_and_cancelled_events_fall_back_to_the_hourly_slot(
    with_calendar: MeterService,
) -> None:
    for moment in (at(10, 27, 8, 10), at(10, 22, 10), at(10, 23, 9, 30), at(10, 23, 12, 30)):
        meeting, _ = with_calendar.detect_meeting(moment)
        assert meeting.title.startswith("Meeting ")
        assert meeting.ends_at - meeting.starts_at == timedelta(hours=1)


def test_an_explicit_start_wins_over_the_calendar(
    with_calendar: MeterService, clock: FakeClock
) -> None:
    clock.now = at(10, 21, 14, 10)
    explicit = with_calendar.start_meeting(title="Ad hoc", duration_minutes=20)
    assert with_calendar.record_status(Status.ENGAGED).meeting_id == explicit.id
    clock.now = at(10, 21, 14, 40)  # the explicit one is over: the calendar's one-off
    meeting, _ = with_calendar.detect_meeting()
    assert meeting.title == "Budget review"
    assert meeting.starts_at == at(10, 21, 14)


def test_a_changed_calendar_file_is_read_again_and_clicks_follow_it(
    with_calendar: MeterService, source: CalendarSource, clock: FakeClock, calendar_file: Path
) -> None:
    clock.now = at(10, 21, 14, 10)
    assert with_calendar.record_status(Status.ENGAGED).meeting_id
    assert with_calendar.live_view().meeting is not None
    text = calendar_file.read_text().replace("SUMMARY:Budget review", "SUMMARY:Budget, renamed")
    text = text.replace("UID:budget-review-1", "UID:budget-review-2")
    calendar_file.write_text(text)
    os.utime(calendar_file, ns=(1, 1))  # a different stamp even within one clock tick
    assert source.refresh()  # the background thread's work, done now
    click = with_calendar.record_status(Status.DISENGAGED)
    view = with_calendar.live_view()
    assert view.meeting is not None
    assert view.meeting.id == click.meeting_id
    assert view.meeting.title == "Budget, renamed"


def test_an_unreadable_calendar_keeps_the_last_copy(
    with_calendar: MeterService, source: CalendarSource, calendar_file: Path
) -> None:
    calendar_file.write_text("not a calendar")
    assert not source.refresh()
    calendar_file.unlink()
    assert not source.refresh()
    meeting, _ = with_calendar.detect_meeting(at(10, 21, 14, 30))
    assert meeting.title == "Budget review"


def test_a_calendar_address_is_fetched_and_its_last_copy_kept_when_unreachable(
    calendar_file: Path,
) -> None:
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(calendar_file.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"http://127.0.0.1:{server.server_address[1]}/{calendar_file.name}"
        source = CalendarSource(address, BERLIN)
        assert source.version == 1
    finally:
        server.shutdown()
        server.server_close()
    assert not source.refresh()  # nobody answers now: the last copy stays
    assert source.calendar is not None
    event = source.calendar.event_at(at(10, 21, 14, 30))
    assert event is not None
    assert event.title == "Budget review"
