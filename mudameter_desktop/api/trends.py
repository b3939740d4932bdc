"""Trends over weeks and months: the history window's Trends view, over HTTP.

Both answer from the same service functions the view calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from mudameter_desktop.domain.trends import Period
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.services.views import HeatCell, TitleWaste, TrendPoint

MAX_TITLES = 100


@dataclass(frozen=True, slots=True)
class Trends:
    items: list[TrendPoint]


@dataclass(frozen=True, slots=True)
class Heatmap:
    items: list[HeatCell]


@dataclass(frozen=True, slots=True)
class Titles:
    items: list[TitleWaste]


@get("/trends", sync_to_thread=True, operation_id="trends", summary="Muda per week or month")
def trends(
    service: NamedDependency[MeterService],
    by: Annotated[Period, QueryParameter(description="week or month, in the host's zone")] = (
        Period.WEEK
    ),
) -> Trends:
    """Meetings, participant-minutes, muda and wasted person-hours per period, newest first."""
    return Trends(service.history.trends(by))


@get(
    "/trends/heatmap",
    sync_to_thread=True,
    operation_id="trendsHeatmap",
    summary="Muda by weekday and hour",
)
def heatmap(service: NamedDependency[MeterService]) -> Heatmap:
    """Muda of the meetings starting in each local weekday (0 = Monday) and hour."""
    return Heatmap(service.history.heatmap())


@get(
    "/trends/titles",
    sync_to_thread=True,
    operation_id="trendsTitles",
    summary="Recurring titles by wasted person-hours",
)
def titles(
    service: NamedDependency[MeterService],
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_TITLES, description="how many")] = 10,
) -> Titles:
    """Titles of two meetings or more, the most wasted person-hours first."""
    return Titles(service.history.wasteful_titles(limit))


TREND_ROUTES = [trends, heatmap, titles]
