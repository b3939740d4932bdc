"""Every endpoint's answer, shape and status code (SPEC §2)."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar.testing import TestClient

from mudameter_desktop import __version__
from mudameter_desktop.api.gate import ASGIApp
from mudameter_desktop.domain.participants import handle_of
from mudameter_desktop.services.changes import ChangeKind, MeetingChange
from mudameter_desktop.services.meter import MeterService
from tests.conftest import FakeClock

Client = TestClient[ASGIApp]


def test_health(local: Client) -> None:
    answer = local.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "version": __version__}


def test_visit_creates_the_meeting_and_a_participant(local: Client) -> None:
    answer = local.post("/visit")
    assert answer.status_code == 200
    body = answer.json()
    assert body["meeting"] == {
        "id": 1,
        "title": "Meeting 11:00",
        "starts_at": "2026-11-27T10:00:00Z",
        "ends_at": "2026-11-27T11:00:00Z",
    }
    assert body["expires_at"] == "2026-11-27T10:50:00Z"
    assert len(body["participant_id"]) == 36


def test_visit_keeps_a_live_participant_and_replaces_an_unknown_one(
    local: Client, clock: FakeClock
) -> None:
    first = local.post("/visit", json={}).json()["participant_id"]
    clock.advance(minutes=5)
    again = local.post("/visit", json={"participant_id": first}).json()
    assert again["participant_id"] == first
    assert again["expires_at"] == "2026-11-27T10:55:00Z"  # the TTL slides
    stranger = local.post("/visit", json={"participant_id": "no-such-participant"}).json()
    assert stranger["participant_id"] not in {first, "no-such-participant"}
    assert local.post("/visit", json={"participant_id": None}).status_code == 200


def test_status_answer_has_the_bucket_of_the_minute(
    local: Client, meeting_clock: FakeClock
) -> None:
    answer = local.post("/users/status", json={"status": "engaged"})
    assert answer.status_code == 200
    body = answer.json()
    assert body == {
        "participant_id": body["participant_id"],
        "handle": handle_of(body["participant_id"]),
        "meeting_id": 1,
        "status": "engaged",
        "minute": "2026-11-27T10:15:00Z",
        "expires_at": "2026-11-27T11:15:00Z",
        "bucket": {
            "minute": "2026-11-27T10:15:00Z",
            "speaking": 0,
            "engaged": 1,
            "disengaged": 0,
        },
    }
    same = {"status": "speaking", "participant_id": body["participant_id"]}
    switched = local.post("/users/status", json=same).json()
    assert switched["participant_id"] == body["participant_id"]
    assert switched["bucket"] == {
        "minute": "2026-11-27T10:15:00Z",
        "speaking": 1,
        "engaged": 1,  # held earlier in the same minute: counts in both columns
        "disengaged": 0,
    }


def test_early_status_counts_in_the_first_minute(local: Client) -> None:
    body = local.post("/users/status", json={"status": "disengaged"}).json()
    assert body["minute"] == "2026-11-27T10:00:00Z"  # the clock says 09:50
    assert body["bucket"]["disengaged"] == 1


def test_status_reaches_the_change_hub(local: Client, service: MeterService) -> None:
    seen: list[MeetingChange] = []
    service.changes.subscribe(seen.append)
    local.post("/users/status", json={"status": "speaking"})
    assert MeetingChange(1, ChangeKind.STATUS) in seen


def test_meeting_detail(local: Client, meeting_clock: FakeClock) -> None:
    first = local.post("/users/status", json={"status": "engaged"}).json()
    local.post("/users/status", json={"status": "disengaged"})
    meeting_clock.advance(minutes=2)
    answer = local.get("/meetings/1")
    assert answer.status_code == 200
    detail = answer.json()
    assert detail["participant_count"] == 2
    assert detail["totals"] == {"speaking": 0, "engaged": 3, "disengaged": 3}
    assert detail["muda"] == 0.5
    samples = detail["engagement_samples"]
    assert [s["minute"] for s in samples][:2] == ["2026-11-27T10:00:00Z", "2026-11-27T10:01:00Z"]
    assert len(samples) == 18  # 10:00 to 10:17, zeros included
    assert samples[-1] == {
        "minute": "2026-11-27T10:17:00Z",
        "speaking": 0,
        "engaged": 1,
        "disengaged": 1,
    }
    assert detail["room"] == {"speaking": 0, "engaged": 1, "disengaged": 1}
    mine = next(p for p in detail["participants"] if p["handle"] == first["handle"])
    assert mine == {
        "handle": handle_of(first["participant_id"]),
        "kind": "lan",
        "created_at": "2026-11-27T10:15:00Z",
        "expires_at": "2026-11-27T11:15:00Z",
        "status": "engaged",
        "status_at": "2026-11-27T10:15:00Z",
    }


def test_list_meetings_pages_newest_first(local: Client, clock: FakeClock) -> None:
    for hour in range(21):
        at = datetime(2026, 11, 20, hour, 0, tzinfo=UTC).isoformat()
        assert local.post("/meetings", json={"at": at}).status_code == 201
    first = local.get("/meetings").json()
    assert (first["page"], first["page_size"], first["total"], first["pages"]) == (1, 20, 21, 2)
    assert len(first["items"]) == 20
    assert first["items"][0]["starts_at"] == "2026-11-20T20:00:00Z"
    assert set(first["items"][0]) == {
        "id",
        "title",
        "starts_at",
        "ends_at",
        "participant_count",
        "totals",
        "muda",
    }
    assert first["items"][0]["muda"] is None
    second = local.get("/meetings", params={"page": 2}).json()
    assert [m["starts_at"] for m in second["items"]] == ["2026-11-20T00:00:00Z"]
    past_the_end = local.get("/meetings", params={"page": 3}).json()
    assert past_the_end["items"] == []
    assert past_the_end["page"] == 3


def test_detection_returns_200_for_an_existing_meeting(local: Client) -> None:
    created = local.post("/meetings", json={"at": "2026-11-27T10:20:00+01:00"})
    assert created.status_code == 201
    assert created.json()["starts_at"] == "2026-11-27T09:00:00Z"
    again = local.post("/meetings", json={"at": "2026-11-27T08:40:00Z", "title": "Ignored"})
    assert again.status_code == 200
    assert again.json() == created.json()
    now = local.post("/meetings")  # no body: the meeting detected now
    assert now.status_code == 201
    assert now.json()["starts_at"] == "2026-11-27T10:00:00Z"


def test_detection_with_a_title(local: Client) -> None:
    answer = local.post("/meetings", json={"at": "2026-11-27T13:05:00Z", "title": "Retro"})
    assert answer.status_code == 201
    assert answer.json()["title"] == "Retro"


def test_explicit_start(local: Client) -> None:
    answer = local.post(
        "/meetings",
        json={
            "starts_at": "2026-11-27T12:34:56+02:00",
            "title": "Planning",
            "duration_minutes": 90,
        },
    )
    assert answer.status_code == 201
    assert answer.json() == {
        "id": 1,
        "title": "Planning",
        "starts_at": "2026-11-27T10:34:00Z",
        "ends_at": "2026-11-27T12:04:00Z",
    }
    default_length = local.post("/meetings", json={"starts_at": "2026-11-28T08:00:00Z"}).json()
    assert default_length["ends_at"] == "2026-11-28T09:00:00Z"


def test_openapi_document(local: Client) -> None:
    answer = local.get("/schema/openapi.json")
    assert answer.status_code == 200
    paths = answer.json()["paths"]
    assert {"/meetings", "/meetings/{meeting_id}", "/users/status", "/visit", "/health"} <= set(
        paths
    )
    assert "post" in paths["/meetings"]
    assert "/" not in paths


def test_participant_page_and_its_files(local: Client) -> None:
    page = local.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-status="engaged"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in [("app.js", "text/javascript"), ("style.css", "text/css")]:
        answer = local.get(f"/static/{name}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(kind)
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from the internet


def test_static_files_never_leave_their_folder(local: Client) -> None:
    for path in [
        "/static/../app.py",
        "/static/..%2f..%2fapp.py",
        "/static/%2e%2e/%2e%2e/settings.py",
        "/static/index.html/../../api/app.py",
        "/static/.",
        "/static/__init__.py",
        "/static/%2Fetc%2Fpasswd",
    ]:
        answer = local.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/json"
