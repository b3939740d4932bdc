"""`GET /trends`, `/trends/heatmap` and `/trends/titles` answer what the Trends view shows."""

from __future__ import annotations

from litestar.testing import TestClient

from mudameter_desktop.api.gate import ASGIApp
from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.domain.trends import Period
from mudameter_desktop.services.export import iso
from mudameter_desktop.services.meter import MeterService
from tests.conftest import FakeClock

Client = TestClient[ASGIApp]


def test_trends_by_week_and_month_match_the_service(
    local: Client, service: MeterService, clock: FakeClock
) -> None:
    service.start_meeting(title="Standup", duration_minutes=10)
    service.record_status(Status.DISENGAGED)
    service.record_status(Status.ENGAGED)
    clock.advance(minutes=15)
    for by in Period:
        answer = local.get("/trends", params={"by": by.value})
        assert answer.status_code == 200
        (point,) = service.history.trends(by)
        assert answer.json() == {
            "items": [
                {
                    "period_start": iso(point.period_start),
                    "meetings": 1,
                    "participant_minutes": 20,
                    "muda": 0.5,
                    "wasted_person_hours": 10 / 60,
                }
            ]
        }
    assert local.get("/trends").json() == local.get("/trends?by=week").json()


def test_the_heatmap(local: Client, service: MeterService, clock: FakeClock) -> None:
    assert local.get("/trends/heatmap").json() == {"items": []}
    service.start_meeting(title="Standup", duration_minutes=10)
    service.record_status(Status.DISENGAGED)
    clock.advance(minutes=15)
    (cell,) = local.get("/trends/heatmap").json()["items"]
    assert cell["meetings"] == 1
    assert cell["muda"] == 1.0
    assert (cell["weekday"], cell["hour"]) == (4, 10)  # Friday 27 Nov, 10:xx in Berlin


def test_a_bad_period_is_a_400(local: Client) -> None:
    answer = local.get("/trends", params={"by": "year"})
    assert answer.status_code == 400
    assert answer.json()["status_code"] == 400


def test_recurring_titles(local: Client, service: MeterService, clock: FakeClock) -> None:
    assert local.get("/trends/titles").json() == {"items": []}
    for _ in range(3):  # three stand-ups, each with one disengaged person for 10 minutes
        service.start_meeting(title="Standup", duration_minutes=10)
        service.record_status(Status.DISENGAGED)
        clock.advance(minutes=15)
    service.start_meeting(title="One-off", duration_minutes=10)
    clock.advance(minutes=15)
    assert local.get("/trends/titles").json() == {
        "items": [
            {
                "title": "Standup",
                "meetings": 3,
                "participant_minutes": 30,
                "muda": 1.0,
                "wasted_person_hours": 0.5,
            }
        ]
    }
    assert local.get("/trends/titles", params={"limit": 0}).status_code == 400
    assert local.get("/trends/titles", params={"limit": 101}).status_code == 400
