"""Rooms over HTTP (SPEC §7): one set of handlers at `/rooms/{slug}/…` and, for the room
`default`, at the seed's paths; each room's key opens that room only; its host token
makes its holder the room's host. Runs on SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.app import create_app
from mudameter_desktop.api.gate import ASGIApp
from mudameter_desktop.api.limits import RateLimiter
from mudameter_desktop.api.rooms import RECORD_TTL_S
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.services.rooms import RoomDirectory, RoomRecord
from mudameter_desktop.store.database import OpenedStore
from tests.api.conftest import LAN_ADDRESS, ROOM_KEY, ClientFactory, as_client
from tests.conftest import FakeClock

Client = TestClient[ASGIApp]
STATUS = {"status": "engaged"}


def bearer(secret: str | None) -> dict[str, str]:
    assert secret is not None
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def rooms(store: OpenedStore) -> RoomDirectory:
    return RoomDirectory(store.engine)


@pytest.fixture
def team_a(rooms: RoomDirectory) -> RoomRecord:
    return rooms.add("Team A", timezone="Europe/Berlin")


@pytest.fixture
def team_b(rooms: RoomDirectory) -> RoomRecord:
    return rooms.add("Team B", timezone="America/New_York")


@pytest.fixture
def lan(client_from: ClientFactory) -> Client:
    return client_from(LAN_ADDRESS)


def test_room_paths_serve_their_own_meetings(
    local: Client, team_a: RoomRecord, team_b: RoomRecord, meeting_clock: FakeClock
) -> None:
    in_a = local.post("/rooms/team-a/users/status", json=STATUS)
    assert in_a.status_code == 200, in_a.text
    assert local.post("/rooms/team-a/visit").status_code == 200
    listed = local.get("/rooms/team-a/meetings").json()
    assert listed["total"] == 1
    assert listed["items"][0]["id"] == in_a.json()["meeting_id"]
    assert local.get("/rooms/team-b/meetings").json()["total"] == 0
    assert local.get("/meetings").json()["total"] == 0  # the room `default` has none
    detail = local.get(f"/rooms/team-a/meetings/{in_a.json()['meeting_id']}")
    assert detail.status_code == 200
    assert detail.json()["room"] == {"speaking": 0, "engaged": 1, "disengaged": 0}
    # A meeting of another room is not found through this one.
    assert local.get(f"/rooms/team-b/meetings/{in_a.json()['meeting_id']}").status_code == 404
    assert local.get(f"/meetings/{in_a.json()['meeting_id']}").status_code == 404
    assert local.get("/rooms/team-a/trends").status_code == 200
    assert local.get("/rooms/team-a/trends/heatmap").status_code == 200


def test_each_room_detects_in_its_own_zone(
    local: Client, team_a: RoomRecord, team_b: RoomRecord, meeting_clock: FakeClock
) -> None:
    """10:25 UTC: 11:25 in Berlin (the 11:00 meeting), 05:25 in New York (05:00)."""
    berlin = local.post("/rooms/team-a/meetings", json={}).json()
    new_york = local.post("/rooms/team-b/meetings", json={}).json()
    assert berlin["starts_at"] == "2026-11-27T10:00:00Z"
    assert new_york["starts_at"] == "2026-11-27T10:00:00Z"  # both on the hour, in UTC too
    assert berlin["id"] != new_york["id"]  # one detected meeting per slot *and room*


def test_the_seed_paths_are_the_room_default(local: Client, meeting_clock: FakeClock) -> None:
    recorded = local.post("/users/status", json=STATUS).json()
    through_room = local.get("/rooms/default/meetings").json()
    assert through_room == local.get("/meetings").json()
    assert through_room["items"][0]["id"] == recorded["meeting_id"]
    again = local.post(
        "/rooms/default/users/status",
        json={"status": "speaking", "participant_id": recorded["participant_id"]},
    ).json()
    assert again["participant_id"] == recorded["participant_id"]  # one room, one participant


PATHS_OF_NO_ROOM = ("/rooms/nowhere/meetings", "/rooms/nowhere/visit", "/rooms/NOPE!/events")


def test_an_unknown_room_is_a_404_json_for_the_host(local: Client) -> None:
    for path in PATHS_OF_NO_ROOM:
        answer = local.get(path)
        assert answer.status_code == 404, path
        assert answer.json() == {"status_code": 404, "detail": "No such room"}


def test_others_cannot_tell_an_unknown_room_from_a_locked_one(
    lan: Client, team_a: RoomRecord
) -> None:
    """As the seed's key is checked before routing: nobody can try slugs for rooms."""
    for path in (*PATHS_OF_NO_ROOM, "/rooms/team-a/meetings"):
        assert lan.get(path).json() == {"status_code": 401, "detail": "Missing room key"}
        wrong = lan.get(path, headers=bearer(ROOM_KEY))
        assert wrong.json() == {"status_code": 403, "detail": "Wrong room key"}
    page = lan.get("/rooms/nowhere/")
    assert page.status_code == 401
    assert "join link" in page.text


def test_a_rooms_page_has_its_slash_and_its_own_links(
    local: Client, lan: Client, team_a: RoomRecord
) -> None:
    moved = local.get("/rooms/team-a", follow_redirects=False)
    assert moved.status_code == 308
    assert moved.headers["location"] == "/rooms/team-a/"
    page = local.get("/rooms/team-a/")
    assert page.status_code == 200
    assert 'src="static/app.js"' in page.text  # relative: the room's own script
    assert local.get("/rooms/team-a/static/app.js").status_code == 200
    needs_key = lan.get("/rooms/team-a/")
    assert needs_key.status_code == 401
    assert '<script src="/rooms/team-a/static/join.js"' in needs_key.text
    assert lan.get("/rooms/team-a/static/join.js").status_code == 200  # open, as at `/`


def test_a_rooms_key_opens_that_room_only(
    client_from: ClientFactory, team_a: RoomRecord, team_b: RoomRecord, meeting_clock: FakeClock
) -> None:
    phone = client_from(LAN_ADDRESS)
    assert phone.get("/rooms/team-a/meetings").status_code == 401
    key_a = bearer(team_a.participant_key)
    assert phone.get("/rooms/team-a/meetings", headers=key_a).status_code == 200
    assert phone.post("/rooms/team-a/users/status", json=STATUS, headers=key_a).status_code == 200
    for path in ("/rooms/team-b/meetings", "/meetings", "/rooms/default/meetings"):
        assert phone.get(path, headers=key_a).status_code == 403, path
    assert phone.get("/rooms/team-a/meetings", headers=bearer(ROOM_KEY)).status_code == 403
    assert phone.get("/meetings", headers=bearer(ROOM_KEY)).status_code == 200


def test_a_rooms_join_gives_a_cookie_for_that_room(
    client_from: ClientFactory, team_a: RoomRecord, team_b: RoomRecord, meeting_clock: FakeClock
) -> None:
    phone = client_from(LAN_ADDRESS)
    joined = phone.post("/rooms/team-a/join", json={"key": team_a.participant_key})
    assert joined.status_code == 200
    cookie = joined.headers["set-cookie"]
    assert cookie.startswith(f"mudameter_device_{team_a.id}=")
    assert "Path=/rooms/team-a/;" in cookie
    assert "HttpOnly" in cookie
    assert phone.post("/rooms/team-a/visit").status_code == 200
    # The test client sends the cookie everywhere; the room's name for it matters.
    assert phone.get("/rooms/team-b/meetings").status_code == 401
    assert phone.get("/meetings").status_code == 401
    assert phone.post("/rooms/team-b/join", json={"key": team_a.participant_key}).status_code == 403


def test_a_new_key_revokes_the_rooms_old_one_and_its_devices(
    client_from: ClientFactory, rooms: RoomDirectory, team_a: RoomRecord
) -> None:
    """`mudameter rooms new-key` in another process: honoured once the record is read again."""
    phone = client_from(LAN_ADDRESS)
    assert phone.post("/rooms/team-a/join", json={"key": team_a.participant_key}).is_success
    assert phone.get("/rooms/team-a/meetings").status_code == 200
    renewed = rooms.new_key("team-a")
    time.sleep(RECORD_TTL_S + 0.1)
    assert phone.get("/rooms/team-a/meetings").status_code == 403  # its device token
    later = client_from("192.168.1.78")
    assert (
        later.get("/rooms/team-a/meetings", headers=bearer(team_a.participant_key)).status_code
        == 403
    )
    assert later.get("/rooms/team-a/meetings", headers=bearer(renewed.participant_key)).is_success


@pytest.fixture
def team_server(
    service: MeterService, access: RoomAccess, store: OpenedStore
) -> Iterator[ClientFactory]:
    """The app as a team server runs it: no address is trusted, loopback included."""
    app = create_app(service, access, RateLimiter(limit=10**6), trust_loopback=False)
    clients: list[Client] = []

    def make(address: str = "127.0.0.1") -> Client:
        client = TestClient(as_client(app, address), base_url="http://127.0.0.1:8765")
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_a_team_server_trusts_no_address(
    team_server: ClientFactory, team_a: RoomRecord, meeting_clock: FakeClock
) -> None:
    loopback = team_server("127.0.0.1")
    assert loopback.get("/rooms/team-a/meetings").status_code == 401
    start = {"starts_at": "2026-11-27T10:25:00Z"}
    key = bearer(team_a.participant_key)
    refused = loopback.post("/rooms/team-a/meetings", json=start, headers=key)
    assert refused.status_code == 403
    host = bearer(team_a.host_token)
    assert loopback.post("/rooms/team-a/meetings", json=start, headers=host).status_code == 201


def test_the_host_token_may_act_as_the_host(
    team_server: ClientFactory, team_a: RoomRecord, team_b: RoomRecord, meeting_clock: FakeClock
) -> None:
    client = team_server(LAN_ADDRESS)
    host, key = bearer(team_a.host_token), bearer(team_a.participant_key)
    local_status = {"status": "speaking", "kind": "local"}
    refused = client.post("/rooms/team-a/users/status", json=local_status, headers=key)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only the host can post as the local participant"
    mine = client.post("/rooms/team-a/users/status", json=local_status, headers=host)
    assert mine.status_code == 200, mine.text
    meeting_id = mine.json()["meeting_id"]
    # The host reads everything; a participant handles and statuses only (SPEC §3).
    as_host = client.get(f"/rooms/team-a/meetings/{meeting_id}", headers=host).json()
    assert [p["kind"] for p in as_host["participants"]] == ["local"]
    as_participant = client.get(f"/rooms/team-a/meetings/{meeting_id}", headers=key).json()
    assert [p["kind"] for p in as_participant["participants"]] == [None]
    # Rename, end, delete: the host's.
    path = f"/rooms/team-a/meetings/{meeting_id}"
    assert client.patch(path, json={"title": "Retro"}, headers=key).status_code == 403
    renamed = client.patch(path, json={"title": "Retro"}, headers=host)
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Retro"
    assert client.post(f"{path}/end", headers=key).status_code == 403
    ended = client.post(f"{path}/end", headers=host)
    assert ended.status_code == 200
    assert ended.json()["ends_at"].startswith("2026-11-27T10:15:00")  # now
    again = client.post(f"{path}/end", headers=host)
    assert again.status_code == 409
    assert again.json()["status_code"] == 409
    assert client.delete(path, headers=key).status_code == 403
    assert client.delete(path, headers=host).status_code == 204
    assert client.get(path, headers=host).status_code == 404
    assert client.delete(path, headers=host).status_code == 404
    # Room A's host token is nobody in room B.
    other = bearer(team_b.participant_key)
    assert client.get("/rooms/team-b/meetings", headers=host).status_code == 403
    assert client.get("/rooms/team-b/meetings", headers=other).status_code == 200


def test_the_host_sends_a_click_that_waited_with_its_own_time(
    team_server: ClientFactory, team_a: RoomRecord, meeting_clock: FakeClock
) -> None:
    """The desktop app's offline queue (issue 13): `at`, the host's only; sent twice, once."""
    client = team_server(LAN_ADDRESS)
    host, key = bearer(team_a.host_token), bearer(team_a.participant_key)
    path = "/rooms/team-a/users/status"
    first = client.post(path, json={"status": "engaged", "kind": "local"}, headers=host).json()
    meeting_clock.advance(minutes=5)  # 10:20 UTC
    late = {
        "status": "disengaged",
        "kind": "local",
        "participant_id": first["participant_id"],
        "at": "2026-11-27T10:17:30+00:00",
    }
    sent = client.post(path, json=late, headers=host)
    assert sent.status_code == 200, sent.text
    again = client.post(path, json=late, headers=host)
    assert again.json()["participant_id"] == sent.json()["participant_id"]
    assert sent.json()["participant_id"] == first["participant_id"]
    assert sent.json()["minute"] == "2026-11-27T10:17:00Z"
    detail = client.get(f"/rooms/team-a/meetings/{first['meeting_id']}", headers=host).json()
    by_minute = {s["minute"][11:16]: s for s in detail["engagement_samples"]}
    assert (by_minute["10:16"]["engaged"], by_minute["10:16"]["disengaged"]) == (1, 0)
    assert (by_minute["10:18"]["engaged"], by_minute["10:18"]["disengaged"]) == (0, 1)
    assert [p["status"] for p in detail["participants"]] == ["disengaged"]
    assert client.post(path, json=late, headers=key).status_code == 403
    as_lan = client.post(path, json={**late, "kind": "lan"}, headers=host)
    assert as_lan.status_code == 403
    assert "may say when they were made" in as_lan.json()["detail"]
    as_lan_with_key = client.post(path, json={**late, "kind": "lan"}, headers=key)
    assert as_lan_with_key.status_code == 403
    future = client.post(path, json={**late, "at": "2026-11-27T10:21:00Z"}, headers=host)
    assert future.status_code == 400
    assert "future" in future.json()["detail"]
    for bad in ("2026-11-27T10:17:30", "yesterday", "2026-11-01T10:00:00Z"):
        refused = client.post(path, json={**late, "at": bad}, headers=host)
        assert refused.status_code == 400, bad


def test_the_room_now_as_the_tray_shows_it(
    team_server: ClientFactory, team_a: RoomRecord, meeting_clock: FakeClock
) -> None:
    """`GET …/live`: the desktop app's tray when it is a team server's client (issue 13)."""
    client = team_server(LAN_ADDRESS)
    host, key = bearer(team_a.host_token), bearer(team_a.participant_key)
    before = client.get("/rooms/team-a/live", headers=key)
    assert before.status_code == 200, before.text
    assert before.json()["meeting"] is None  # nobody clicked: the slot a click would make
    assert before.json()["plan"]["starts_at"] == "2026-11-27T10:00:00Z"
    assert client.get("/rooms/team-a/meetings", headers=key).json()["total"] == 0  # none made
    client.post("/rooms/team-a/users/status", json={"status": "disengaged"}, headers=key)
    client.post("/rooms/team-a/users/status", json={"status": "engaged"}, headers=host)
    meeting_clock.advance(minutes=2)
    now = client.get("/rooms/team-a/live", headers=host).json()
    assert now["meeting"]["starts_at"] == "2026-11-27T10:00:00Z"
    assert now["plan"] is None
    assert now["running"] is True
    assert now["room"] == {"speaking": 0, "engaged": 1, "disengaged": 1}
    assert now["totals"] == {"speaking": 0, "engaged": 3, "disengaged": 3}  # 10:15-10:17
    assert now["muda"] == 0.5
    assert now["recent"][-1] == {"speaking": 0, "engaged": 1, "disengaged": 1}
    assert client.get("/rooms/team-a/live").status_code == 401  # the room's key is needed


def test_the_host_reads_the_rooms_participant_key_for_its_join_link(
    team_server: ClientFactory, team_a: RoomRecord, rooms: RoomDirectory
) -> None:
    client = team_server(LAN_ADDRESS)
    host, key = bearer(team_a.host_token), bearer(team_a.participant_key)
    answer = client.get("/rooms/team-a/participant-key", headers=host)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"participant_key": team_a.participant_key}
    refused = client.get("/rooms/team-a/participant-key", headers=key)
    assert refused.status_code == 403
    renewed = rooms.new_key("team-a")
    time.sleep(RECORD_TTL_S + 0.1)  # the servers read a room's record again after this
    again = client.get("/rooms/team-a/participant-key", headers=host).json()
    assert again == {"participant_key": renewed.participant_key}


def test_the_desktop_host_reads_its_own_rooms_key(local: Client, access: RoomAccess) -> None:
    assert local.get("/participant-key").json() == {"participant_key": access.key}


def test_the_default_rooms_host_token_at_the_seed_paths(
    team_server: ClientFactory, rooms: RoomDirectory, meeting_clock: FakeClock
) -> None:
    default = rooms.ensure_secrets("default")
    client = team_server(LAN_ADDRESS)
    host, key = bearer(default.host_token), bearer(default.participant_key)
    assert client.get("/meetings", headers=bearer(ROOM_KEY)).status_code == 403  # the DB's key
    recorded = client.post("/users/status", json={"status": "engaged"}, headers=key)
    assert recorded.status_code == 200
    path = f"/meetings/{recorded.json()['meeting_id']}"
    assert client.patch(path, json={"title": "Standup"}, headers=key).status_code == 403
    assert client.patch(path, json={"title": "Standup"}, headers=host).json()["title"] == "Standup"
    assert client.get(f"/rooms/default{path}", headers=key).json()["title"] == "Standup"
    assert client.post(f"{path}/end", headers=host).status_code == 200
    assert client.delete(path, headers=host).status_code == 204


def test_the_host_link_trades_for_a_host_cookie(
    team_server: ClientFactory, team_a: RoomRecord, meeting_clock: FakeClock
) -> None:
    browser = team_server(LAN_ADDRESS)
    joined = browser.post("/rooms/team-a/join", json={"key": team_a.host_token})
    assert joined.status_code == 200
    assert joined.json()["host"] is True
    assert joined.headers["set-cookie"].startswith(f"mudameter_host_{team_a.id}=")
    start = {"starts_at": "2026-11-27T10:25:00Z", "title": "Planning"}
    assert browser.post("/rooms/team-a/meetings", json=start).status_code == 201


def test_the_desktop_host_keeps_its_powers(local: Client, meeting_clock: FakeClock) -> None:
    """On the desktop app loopback is the host (today's behaviour), now with the host
    actions at the seed's paths too."""
    created = local.post("/meetings", json={"title": "Planning"}).json()
    path = f"/meetings/{created['id']}"
    assert local.patch(path, json={"title": "Review"}).json()["title"] == "Review"
    assert local.post(f"{path}/end").status_code == 200
    assert local.delete(path).status_code == 204
    local_status = local.post("/users/status", json={"status": "engaged", "kind": "local"})
    assert local_status.status_code == 200


def test_host_actions_check_their_input(local: Client, meeting_clock: FakeClock) -> None:
    created = local.post("/meetings", json={}).json()
    path = f"/meetings/{created['id']}"
    for body in ({}, {"title": ""}, {"title": "x" * 201}, {"title": "ok", "other": 1}):
        assert local.patch(path, json=body).status_code == 400, body
    assert local.patch("/meetings/abc", json={"title": "x"}).status_code == 400
    assert local.patch("/meetings/999", json={"title": "x"}).status_code == 404
    assert local.post("/meetings/999/end").status_code == 404
    bad_kind = local.post("/users/status", json={"status": "engaged", "kind": "robot"})
    assert bad_kind.status_code == 400


def test_the_document_names_the_room_paths(local: Client) -> None:
    paths = local.get("/schema/openapi.json").json()["paths"]
    for path in (
        "/rooms/{room_slug}/meetings",
        "/rooms/{room_slug}/meetings/{meeting_id}",
        "/rooms/{room_slug}/meetings/{meeting_id}/end",
        "/rooms/{room_slug}/users/status",
        "/rooms/{room_slug}/visit",
        "/rooms/{room_slug}/events",
        "/events",
    ):
        assert path in paths, path
    assert paths["/rooms/{room_slug}/visit"]["post"]["operationId"] == "roomVisit"
    assert set(paths["/meetings/{meeting_id}"]) >= {"get", "patch", "delete"}
