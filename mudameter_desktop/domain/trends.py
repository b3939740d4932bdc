"""Trends over weeks and months: which local period or hour a meeting belongs to."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from mudameter_desktop.domain.meetings import require_aware
from mudameter_desktop.domain.statuses import Counts

MIN_RECURRENCES = 2  # a title seen this often is a recurring meeting


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"


def period_start(moment: datetime, zone: tzinfo, period: Period) -> datetime:
    """The first instant of the local week (Monday 00:00) or month holding `moment`, in UTC.

    Computed on the local calendar date, so a DST change inside the period
    does not move its start.
    """
    local_day = require_aware(moment).astimezone(zone).date()
    return local_midnight(first_day_of(local_day, period), zone)


def first_day_of(day: date, period: Period) -> date:
    """The Monday of the week, or the first of the month, holding `day`."""
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The instant a local calendar day starts, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def weekday_and_hour(moment: datetime, zone: tzinfo) -> tuple[int, int]:
    """The local weekday (0 = Monday) and hour a meeting starts in."""
    local = require_aware(moment).astimezone(zone)
    return local.weekday(), local.hour


def wasted_person_hours(totals: Counts) -> float:
    """Disengaged participant-minutes as person-hours."""
    return totals.disengaged / 60
