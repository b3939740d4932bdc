"""Meeting detection: nearest local hour, DST, half-hour zones, explicit meetings, TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mudameter_desktop.domain.meetings import (
    Span,
    default_title,
    expiry_after,
    is_alive,
    nearest_local_hour,
    pick_explicit,
    plan_detected,
    plan_explicit,
)

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2026, 11, 27, 9, 0), utc(2026, 11, 27, 9, 0)),
        (utc(2026, 11, 27, 9, 29, 59), utc(2026, 11, 27, 9, 0)),
        (utc(2026, 11, 27, 9, 30), utc(2026, 11, 27, 10, 0)),  # hh:30 rounds up
        (utc(2026, 11, 27, 9, 59, 59), utc(2026, 11, 27, 10, 0)),
    ],
)
def test_rounds_to_the_nearest_hour(moment: datetime, expected: datetime) -> None:
    assert nearest_local_hour(moment, BERLIN) == expected


def test_half_hour_zone_gets_meetings_on_its_own_local_hours() -> None:
    # 09:50 UTC is 15:20 in Kolkata: the meeting is 15:00 local, 09:30 UTC.
    start = nearest_local_hour(utc(2026, 11, 27, 9, 50), KOLKATA)
    assert start == utc(2026, 11, 27, 9, 30)
    assert start.astimezone(KOLKATA).strftime("%H:%M") == "15:00"
    assert nearest_local_hour(utc(2026, 11, 27, 10, 0), KOLKATA) == utc(2026, 11, 27, 10, 30)


def test_spring_forward_rounds_to_the_next_real_hour() -> None:
    # 2026-03-08 New York: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    before = datetime(2026, 3, 8, 1, 40, tzinfo=NEW_YORK)  # EST, 06:40 UTC
    start = nearest_local_hour(before, NEW_YORK)
    assert start == utc(2026, 3, 8, 7, 0)
    assert start.astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:00 EDT"
    assert plan_detected(before, NEW_YORK).ends_at - start == timedelta(minutes=60)


def test_fall_back_keeps_both_one_oclock_hours_apart() -> None:
    # 2026-11-01 New York: 02:00 EDT falls back to 01:00 EST; 01:xx happens twice.
    first = datetime(2026, 11, 1, 1, 10, tzinfo=NEW_YORK, fold=0)  # EDT, 05:10 UTC
    second = datetime(2026, 11, 1, 1, 10, tzinfo=NEW_YORK, fold=1)  # EST, 06:10 UTC
    assert nearest_local_hour(first, NEW_YORK) == utc(2026, 11, 1, 5, 0)
    assert nearest_local_hour(second, NEW_YORK) == utc(2026, 11, 1, 6, 0)
    assert default_title(utc(2026, 11, 1, 6, 0), NEW_YORK) == "Meeting 01:00"


@given(
    moment=st.datetimes(
        # hypothesis takes naive bounds and adds the zone itself
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001
        max_value=datetime(2090, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    zone=st.sampled_from([BERLIN, KOLKATA, NEW_YORK, ZoneInfo("Australia/Lord_Howe")]),
)
def test_detected_start_is_a_local_hour_within_half_an_hour(
    moment: datetime, zone: ZoneInfo
) -> None:
    start = nearest_local_hour(moment, zone)
    assert -timedelta(minutes=30) < start - moment <= timedelta(minutes=30)
    local = start.astimezone(zone)
    # Lord Howe shifts by 30 minutes for DST, so its "hour" may start at :30 then.
    assert (local.minute, local.second, local.microsecond) in {(0, 0, 0), (30, 0, 0)}
    if zone is not ZoneInfo("Australia/Lord_Howe"):
        assert local.minute == 0


def test_detected_plan_has_default_title_and_an_hour() -> None:
    plan = plan_detected(utc(2026, 11, 27, 8, 40), BERLIN)
    assert plan.title == "Meeting 10:00"  # 09:00 UTC is 10:00 in Berlin
    assert (plan.starts_at, plan.ends_at) == (utc(2026, 11, 27, 9), utc(2026, 11, 27, 10))
    assert plan.slot_start == plan.starts_at
    assert plan_detected(utc(2026, 11, 27, 8, 40), BERLIN, "Stand-up").title == "Stand-up"


def test_explicit_plan_starts_at_the_exact_minute() -> None:
    plan = plan_explicit(utc(2026, 11, 27, 9, 17, 42), BERLIN, "Retro", 45)
    assert plan.starts_at == utc(2026, 11, 27, 9, 17)
    assert plan.ends_at == utc(2026, 11, 27, 10, 2)
    assert plan.slot_start is None
    with pytest.raises(ValueError, match="duration"):
        plan_explicit(utc(2026, 11, 27, 9), BERLIN, None, 0)
    with pytest.raises(ValueError, match="duration"):
        plan_explicit(utc(2026, 11, 27, 9), BERLIN, None, 1441)


def test_the_latest_running_explicit_meeting_wins() -> None:
    early = Span(1, utc(2026, 11, 27, 9), utc(2026, 11, 27, 11))
    late = Span(2, utc(2026, 11, 27, 9, 30), utc(2026, 11, 27, 10))
    assert pick_explicit([early, late], utc(2026, 11, 27, 9, 45)) == late
    assert pick_explicit([early, late], utc(2026, 11, 27, 10, 15)) == early
    assert pick_explicit([early, late], utc(2026, 11, 27, 11)) is None


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        nearest_local_hour(datetime(2026, 11, 27, 9), BERLIN)  # noqa: DTZ001


def test_participant_ttl_slides_an_hour_after_last_activity() -> None:
    expires = expiry_after(utc(2026, 11, 27, 9, 10))
    assert expires == utc(2026, 11, 27, 10, 10)
    assert is_alive(expires, utc(2026, 11, 27, 10, 9, 59))
    assert not is_alive(expires, utc(2026, 11, 27, 10, 10))
