"""What a LAN client with the key may do (SPEC §2 *A participant id is a credential*,
§3 *What a LAN client may do*, *Anonymity*): no impersonation, no skewing, no host's acts."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from mudameter_desktop.api.gate import ASGIApp
from mudameter_desktop.domain.participants import MAX_LIVE_PER_ADDRESS, handle_of
from mudameter_desktop.domain.statuses import ParticipantKind, Status
from mudameter_desktop.services.meter import MeterService
from tests.api.conftest import LAN_ADDRESS, ROOM_KEY, ClientFactory
from tests.conftest import FakeClock

Client = TestClient[ASGIApp]
BEARER = {"Authorization": f"Bearer {ROOM_KEY}"}


@pytest.fixture
def phone(client_from: ClientFactory) -> Client:
    """A LAN client that has joined with the key."""
    client = client_from(LAN_ADDRESS)
    assert client.post("/join", json={"key": ROOM_KEY}).status_code == 200
    return client


def test_the_detail_names_participants_by_handle_never_by_id(
    phone: Client, local: Client, service: MeterService, meeting_clock: FakeClock
) -> None:
    host = service.record_status(Status.ENGAGED, kind=ParticipantKind.LOCAL)
    posted = phone.post("/users/status", json={"status": "speaking"}).json()
    visited = phone.post("/visit", json={"participant_id": posted["participant_id"]}).json()
    assert posted["handle"] == visited["handle"] == handle_of(posted["participant_id"])
    for reader in (phone, local):
        answer = reader.get("/meetings/1")
        assert answer.status_code == 200
        for secret in (host.participant_id, posted["participant_id"]):
            assert secret not in answer.text
        participants = answer.json()["participants"]
        assert all("id" not in participant for participant in participants)
        assert {p["handle"] for p in participants} == {host.handle, posted["handle"]}


def test_a_lan_reader_sees_handles_and_statuses_only(
    phone: Client, local: Client, service: MeterService, meeting_clock: FakeClock
) -> None:
    service.record_status(Status.ENGAGED, kind=ParticipantKind.LOCAL)
    phone.post("/users/status", json={"status": "disengaged"})
    seen = phone.get("/meetings/1").json()["participants"]
    assert sorted(p["status"] for p in seen) == ["disengaged", "engaged"]
    for participant in seen:
        assert set(participant) == {
            "handle",
            "kind",
            "created_at",
            "expires_at",
            "status",
            "status_at",
        }
        assert participant["kind"] is None
        assert participant["status_at"] is None
        assert participant["created_at"] is None
        assert participant["expires_at"] is None
    assert [p["handle"] for p in seen] == sorted(p["handle"] for p in seen)  # not arrival
    host_view = local.get("/meetings/1").json()["participants"]
    assert sorted(p["kind"] for p in host_view) == ["lan", "local"]
    assert all(p["status_at"] and p["created_at"] and p["expires_at"] for p in host_view)


def test_a_foreign_host_name_on_loopback_reads_as_the_lan(
    client_from: ClientFactory, service: MeterService, meeting_clock: FakeClock
) -> None:
    service.record_status(Status.ENGAGED, kind=ParticipantKind.LOCAL)
    rebound = client_from("127.0.0.1", host="meeting-room.test:8765")
    seen = rebound.get("/meetings/1", headers=BEARER).json()["participants"]
    assert [p["kind"] for p in seen] == [None]


@pytest.mark.parametrize("address", [LAN_ADDRESS, "127.0.0.1"])
def test_http_never_posts_as_the_person_at_the_tray(
    client_from: ClientFactory,
    local: Client,
    service: MeterService,
    meeting_clock: FakeClock,
    address: str,
) -> None:
    host = service.record_status(Status.ENGAGED, kind=ParticipantKind.LOCAL)
    client = client_from(address)
    for path, body in (
        ("/users/status", {"status": "disengaged", "participant_id": host.participant_id}),
        ("/visit", {"participant_id": host.participant_id}),
    ):
        answer = client.post(path, json=body, headers=BEARER)
        assert answer.status_code == 200
        assert answer.json()["participant_id"] != host.participant_id  # a new participant
        assert answer.json()["handle"] != host.handle
    detail = local.get("/meetings/1").json()
    mine = next(p for p in detail["participants"] if p["handle"] == host.handle)
    assert (mine["kind"], mine["status"]) == ("local", "engaged")
    assert mine["expires_at"] == host.expires_at.isoformat().replace("+00:00", "Z")
    assert service.live_view(host.participant_id).status is Status.ENGAGED


def test_one_address_holds_at_most_five_participants(
    phone: Client, client_from: ClientFactory, local: Client, meeting_clock: FakeClock
) -> None:
    answers = [phone.post("/users/status", json={"status": "disengaged"}) for _ in range(50)]
    codes = [answer.status_code for answer in answers]
    assert codes == [200] * MAX_LIVE_PER_ADDRESS + [429] * (50 - MAX_LIVE_PER_ADDRESS)
    refused = answers[-1]
    assert refused.json()["status_code"] == 429
    assert phone.post("/visit").status_code == 429  # would make a sixth as well
    mine = answers[0].json()["participant_id"]  # an existing id is welcome back
    again = phone.post("/users/status", json={"status": "engaged", "participant_id": mine})
    assert again.status_code == 200
    assert again.json()["participant_id"] == mine
    other = client_from("192.168.1.78")  # another address has its own five
    assert other.post("/users/status", json={"status": "engaged"}, headers=BEARER).is_success
    detail = local.get("/meetings/1").json()
    assert detail["participant_count"] == MAX_LIVE_PER_ADDRESS + 1
    assert detail["room"] == {"speaking": 0, "engaged": 2, "disengaged": 4}


def test_the_host_is_never_capped(local: Client, meeting_clock: FakeClock) -> None:
    for _ in range(MAX_LIVE_PER_ADDRESS + 3):
        assert local.post("/users/status", json={"status": "engaged"}).status_code == 200


def test_an_explicit_start_is_the_hosts(
    phone: Client, local: Client, meeting_clock: FakeClock
) -> None:
    start = {"starts_at": "2026-11-27T10:25:00Z", "duration_minutes": 1440}
    refused = phone.post("/meetings", json=start)
    assert refused.status_code == 403
    assert refused.json() == {"status_code": 403, "detail": "Only the host can start a meeting"}
    assert local.get("/meetings").json()["total"] == 0  # nothing was created
    detected = phone.post("/meetings", json={})  # detection stays open to the LAN
    assert detected.status_code == 201
    assert detected.json()["starts_at"] == "2026-11-27T10:00:00Z"
    assert local.post("/meetings", json=start).status_code == 201
