"""CSV and JSON export of a meeting (pure functions over a MeetingDetail)."""

from __future__ import annotations

import csv
import io
import json

from mudameter_desktop.domain.participants import handle_of
from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.services.export import meeting_to_csv, meeting_to_json
from mudameter_desktop.services.meter import MeterService
from tests.conftest import FakeClock


def test_csv_has_a_row_per_minute_and_defuses_formulas(
    service: MeterService, clock: FakeClock
) -> None:
    meeting = service.start_meeting(title="=HYPERLINK(evil)", duration_minutes=10)
    service.record_status(Status.ENGAGED)
    clock.advance(minutes=2)
    detail = service.history.meeting_detail(meeting.id)
    rows = list(csv.reader(io.StringIO(meeting_to_csv(detail))))
    assert rows[0] == ["meeting_id", "title", "minute", "speaking", "engaged", "disengaged"]
    assert len(rows) == 1 + len(detail.engagement_samples) == 4
    assert rows[1] == [str(meeting.id), "'=HYPERLINK(evil)", "2026-11-27T09:50:00Z", "0", "1", "0"]


def test_json_matches_the_api_shape(service: MeterService, clock: FakeClock) -> None:
    meeting = service.start_meeting(title="Retro", duration_minutes=10)
    participant = service.record_status(Status.SPEAKING).participant_id
    clock.advance(minutes=1)
    exported = json.loads(meeting_to_json(service.history.meeting_detail(meeting.id)))
    assert set(exported) == {
        "id",
        "title",
        "starts_at",
        "ends_at",
        "participant_count",
        "totals",
        "muda",
        "participants",
        "engagement_samples",
        "room",
    }
    assert exported["starts_at"] == "2026-11-27T09:50:00Z"
    assert exported["totals"] == {"speaking": 2, "engaged": 0, "disengaged": 0}
    assert exported["muda"] == 0.0
    [person] = exported["participants"]
    assert (person["handle"], person["kind"], person["status"]) == (
        handle_of(participant),
        "lan",
        "speaking",
    )
    assert "id" not in person  # the participant id is a credential (SPEC §2)
    assert exported["engagement_samples"][0] == {
        "minute": "2026-11-27T09:50:00Z",
        "speaking": 1,
        "engaged": 0,
        "disengaged": 0,
    }
