"""Trends agree with the meetings' own totals: per period, per weekday and hour, per title."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.domain.trends import Period
from mudameter_desktop.services.meter import MeterService
from tests.conftest import FakeClock


def hold(service: MeterService, clock: FakeClock, title: str, statuses: list[Status]) -> int:
    """A ten-minute explicit meeting now, each person holding one status throughout."""
    meeting = service.start_meeting(title=title, duration_minutes=10)
    for status in statuses:
        service.record_status(status)
    clock.advance(minutes=10)
    return meeting.id


def test_trends_add_up_to_the_meetings_totals(service: MeterService, clock: FakeClock) -> None:
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Berlin
    hold(service, clock, "Standup", [Status.ENGAGED, Status.DISENGAGED])
    clock.now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # Wednesday 15:00
    hold(service, clock, "Standup", [Status.DISENGAGED])
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the next week, another month
    hold(service, clock, "Review", [Status.SPEAKING])
    clock.advance(minutes=1)

    weeks = service.history.trends(Period.WEEK)
    assert [p.period_start for p in weeks] == [
        datetime(2026, 11, 29, 23, 0, tzinfo=UTC),  # Monday 30 Nov, local midnight
        datetime(2026, 11, 22, 23, 0, tzinfo=UTC),
    ]
    last_week = weeks[1]
    assert (last_week.meetings, last_week.participant_minutes) == (2, 30)
    assert last_week.muda == 20 / 30
    assert last_week.wasted_person_hours == 20 / 60
    page = service.history.list_meetings(1).items
    everything = sum((m.totals for m in page), Counts())
    assert sum(p.participant_minutes for p in weeks) == everything.total

    months = service.history.trends(Period.MONTH)
    assert [(p.meetings, p.muda) for p in months] == [(1, 0.0), (2, 20 / 30)]


def test_the_heatmap_and_the_titles_that_waste_most(
    service: MeterService, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    hold(service, clock, "Standup", [Status.DISENGAGED])
    clock.now += timedelta(days=7)
    hold(service, clock, "Standup", [Status.DISENGAGED, Status.ENGAGED])
    clock.now += timedelta(hours=5)
    hold(service, clock, "One-off", [Status.DISENGAGED])
    clock.advance(minutes=1)

    cells = {(c.weekday, c.hour): c for c in service.history.heatmap()}
    assert set(cells) == {(0, 10), (0, 15)}
    assert (cells[(0, 10)].meetings, cells[(0, 10)].muda) == (2, 20 / 30)
    (standup,) = service.history.wasteful_titles()  # a one-off is not recurring
    assert (standup.title, standup.meetings, standup.wasted_person_hours) == ("Standup", 2, 20 / 60)


def test_no_meetings_no_trends(service: MeterService) -> None:
    assert service.history.trends(Period.MONTH) == []
    assert service.history.heatmap() == []
    assert service.history.wasteful_titles() == []
