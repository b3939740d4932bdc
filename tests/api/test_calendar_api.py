"""`POST /meetings {"at"}` answers from the calendar exactly as the tray detects."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient

from mudameter_desktop.api.gate import ASGIApp
from mudameter_desktop.services.calendar import CalendarSource
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore
from tests.conftest import FakeClock

DATA = Path(__file__).parent.parent / "data"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def service(store: OpenedStore, clock: FakeClock) -> MeterService:
    """The app's service with the Outlook export as its calendar."""
    source = CalendarSource(str(DATA / "outlook.ics"), BERLIN)
    return MeterService(store.engine, BERLIN, clock=clock, calendar=source)


def detect(local: TestClient[ASGIApp], at: str) -> tuple[int, dict[str, object]]:
    answer = local.post("/meetings", json={"at": at})
    return answer.status_code, answer.json()


def test_the_calendar_gives_exactly_its_meetings(local: TestClient[ASGIApp]) -> None:
    code, weekly = detect(local, "2026-10-13T10:05:00+02:00")
    assert code == 201
    assert weekly == {
        "id": weekly["id"],
        "title": "Team sync",
        "starts_at": "2026-10-13T08:00:00Z",
        "ends_at": "2026-10-13T08:30:00Z",
    }
    assert detect(local, "2026-10-13T10:29:59+02:00") == (200, weekly)  # one per occurrence
    code, after_dst = detect(local, "2026-11-10T10:05:00+01:00")
    assert (code, after_dst["starts_at"]) == (201, "2026-11-10T09:00:00Z")

    _, one_off = detect(local, "2026-10-21T14:30:00Z")
    assert (one_off["title"], one_off["ends_at"]) == ("Budget review", "2026-10-21T15:00:00Z")

    # An exception date, an all-day event and a cancelled one: the hourly slot.
    for moment, slot in (
        ("2026-10-27T10:05:00+01:00", "2026-10-27T09:00:00Z"),
        ("2026-10-22T12:10:00+02:00", "2026-10-22T10:00:00Z"),
        ("2026-10-23T11:20:00+02:00", "2026-10-23T09:00:00Z"),
    ):
        _, meeting = detect(local, moment)
        assert meeting["starts_at"] == slot
        assert str(meeting["title"]).startswith("Meeting ")
    titles = {m["title"] for m in local.get("/meetings").json()["items"]}
    assert titles >= {"Team sync", "Budget review"}
    assert not titles & {"Offsite", "Cancelled planning", "Focus time"}
