"""Trend periods and hours are the host's local calendar, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from mudameter_desktop.domain.trends import Period, period_start, weekday_and_hour

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_week_starts_on_local_monday_midnight_also_across_a_dst_change() -> None:
    # Sunday 2026-10-25 is the end of summer time in Berlin; Monday the 19th is still summer.
    sunday_after_change = datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    assert period_start(sunday_after_change, BERLIN, Period.WEEK) == datetime(
        2026, 10, 18, 22, 0, tzinfo=UTC
    )
    monday_after = datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    assert period_start(monday_after, BERLIN, Period.WEEK) == datetime(
        2026, 10, 25, 23, 0, tzinfo=UTC
    )


def test_a_month_starts_at_the_local_first_day() -> None:
    late_utc = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # already December 1st in Berlin
    assert period_start(late_utc, BERLIN, Period.MONTH) == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    kolkata = ZoneInfo("Asia/Kolkata")
    assert period_start(late_utc, kolkata, Period.MONTH) == datetime(
        2026, 11, 30, 18, 30, tzinfo=UTC
    )


def test_weekday_and_hour_are_local() -> None:
    assert weekday_and_hour(datetime(2026, 11, 29, 23, 15, tzinfo=UTC), BERLIN) == (0, 0)
    assert weekday_and_hour(datetime(2026, 11, 29, 23, 15, tzinfo=UTC), UTC) == (6, 23)
