"""`GET /events` (`/rooms/{slug}/events`): a room's changes as Server-Sent Events, from the
service's hub on SQLite and from PostgreSQL's LISTEN/NOTIFY through any process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from litestar.exceptions import HTTPException
from litestar.testing import TestClient

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.app import create_app
from mudameter_desktop.api.events import EventHub
from mudameter_desktop.api.gate import ASGIApp, Message
from mudameter_desktop.api.limits import ConnectionLimits
from mudameter_desktop.api.server import ServerThread
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.services.rooms import RoomDirectory
from mudameter_desktop.store.database import OpenedStore, open_store
from tests.api.conftest import as_client
from tests.conftest import FakeClock

READ_TIMEOUT = 10.0  # seconds for an event to arrive


def url_of(server: ServerThread, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


@contextmanager
def event_stream(url: str, headers: dict[str, str] | None = None) -> Iterator[Iterator[str]]:
    """The stream's lines, once it is open (its first comment has arrived)."""
    with (
        httpx.Client(timeout=httpx.Timeout(READ_TIMEOUT)) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        yield lines


def next_event(lines: Iterator[str], kind: str | None = None) -> dict[str, Any]:
    """The next event's data (of `kind`, if given), skipping comments and other kinds."""
    for line in lines:
        if line.startswith("data: "):
            event: dict[str, Any] = json.loads(line.removeprefix("data: "))
            if kind is None or event["kind"] == kind:
                return event
    raise AssertionError("the stream ended")


def test_a_status_reaches_the_stream(server: ServerThread) -> None:
    with event_stream(url_of(server, "/events")) as lines:
        posted = httpx.post(url_of(server, "/users/status"), json={"status": "engaged"})
        assert posted.status_code == 200
        event = next_event(lines, "status")
    assert event == {"meeting_id": posted.json()["meeting_id"], "kind": "status"}


def test_a_rooms_stream_carries_that_room_only(server: ServerThread, store: OpenedStore) -> None:
    RoomDirectory(store.engine).add("Team A")
    with event_stream(url_of(server, "/rooms/team-a/events")) as lines:
        elsewhere = httpx.post(url_of(server, "/users/status"), json={"status": "engaged"})
        here = httpx.post(url_of(server, "/rooms/team-a/users/status"), json={"status": "engaged"})
        assert elsewhere.is_success
        assert here.is_success
        assert elsewhere.json()["meeting_id"] != here.json()["meeting_id"]
        first = next_event(lines)
        assert first == {"meeting_id": here.json()["meeting_id"], "kind": "created"}
        assert next_event(lines, "status")["meeting_id"] == here.json()["meeting_id"]


def test_host_actions_reach_the_stream(server: ServerThread) -> None:
    created = httpx.post(url_of(server, "/meetings"), json={"title": "Planning"}).json()
    path = f"/meetings/{created['id']}"
    with event_stream(url_of(server, "/events")) as lines:
        assert httpx.patch(url_of(server, path), json={"title": "Retro"}).is_success
        assert next_event(lines) == {"meeting_id": created["id"], "kind": "updated"}
        assert httpx.delete(url_of(server, path)).status_code == 204
        assert next_event(lines, "deleted") == {"meeting_id": created["id"], "kind": "deleted"}


def test_a_stream_needs_the_rooms_key(
    service: MeterService, store: OpenedStore, meeting_clock: FakeClock
) -> None:
    """Through a name that is not loopback the server asks for the key, as from the LAN."""
    room = RoomDirectory(store.engine).add("Team A")
    running = ServerThread(service, RoomAccess("room-key-for-tests"), "127.0.0.1", 0)
    running.start()
    try:
        foreign = {"Host": "meeting-room.test"}  # not loopback's name: needs the key
        url = url_of(running, "/rooms/team-a/events")
        assert httpx.get(url, headers=foreign).status_code == 401
        wrong = {**foreign, "Authorization": "Bearer room-key-for-tests"}  # `default`'s key
        assert httpx.get(url, headers=wrong).status_code == 403
        keyed = {**foreign, "Authorization": f"Bearer {room.participant_key}"}
        with event_stream(url, keyed):
            pass
    finally:
        running.stop()


def test_the_request_deadline_never_cuts_a_stream(
    service: MeterService, access: RoomAccess, meeting_clock: FakeClock
) -> None:
    limits = ConnectionLimits(deadline_s=0.3)
    running = ServerThread(service, access, "127.0.0.1", 0, limits=limits)
    running.start()
    try:
        with event_stream(url_of(running, "/events")) as lines:
            asyncio.run(asyncio.sleep(1.0))  # over three deadlines with nothing to say
            posted = httpx.post(url_of(running, "/users/status"), json={"status": "speaking"})
            assert next_event(lines, "status")["meeting_id"] == posted.json()["meeting_id"]
    finally:
        running.stop()


@pytest.mark.pg_only  # one process owns a SQLite database: its hub is the whole story
def test_a_change_through_another_process_reaches_the_stream(
    server: ServerThread, store: OpenedStore, store_url: str, clock: FakeClock
) -> None:
    """Two "processes": a second engine, service and server on the same database."""
    other_store = open_store(store_url)
    other = ServerThread(
        MeterService(other_store.engine, ZoneInfo("Europe/Berlin"), clock=clock),
        RoomAccess("room-key-for-tests"),
        "127.0.0.1",
        0,
    )
    other.start()
    try:
        RoomDirectory(store.engine).add("Team A")
        with (
            event_stream(url_of(server, "/events")) as lines,
            event_stream(url_of(server, "/rooms/team-a/events")) as room_lines,
        ):
            posted = httpx.post(url_of(other, "/users/status"), json={"status": "engaged"})
            assert posted.status_code == 200
            assert next_event(lines, "status") == {
                "meeting_id": posted.json()["meeting_id"],
                "kind": "status",
            }
            in_room = httpx.post(
                url_of(other, "/rooms/team-a/users/status"), json={"status": "speaking"}
            )
            assert next_event(room_lines, "status")["meeting_id"] == in_room.json()["meeting_id"]
    finally:
        other.stop()
        other_store.close()


def test_streams_are_bounded(service: MeterService, store: OpenedStore) -> None:
    team = RoomDirectory(store.engine).add("Team A")
    in_team = MeterService(store.engine, service.zone, room_id=team.id)
    hub = EventHub(store.engine, per_room=2, per_process=3)
    loop = asyncio.new_event_loop()
    try:
        first = [hub.subscribe(service, loop) for _ in range(2)]
        with pytest.raises(HTTPException) as full_room:
            hub.subscribe(service, loop)
        assert full_room.value.status_code == 429
        hub.subscribe(in_team, loop)
        with pytest.raises(HTTPException):  # the process is full
            hub.subscribe(in_team, loop)
        hub.unsubscribe(first[0])
        hub.unsubscribe(first[0])  # twice: nothing more
        assert hub.open_streams() == 2
        hub.subscribe(service, loop)
    finally:
        hub.close()
        loop.close()
    assert hub.open_streams() == 0


def test_a_full_stream_is_a_429_json(service: MeterService, access: RoomAccess) -> None:
    app = create_app(service, access, events=EventHub(service._engine, per_room=0))
    with TestClient(as_client(app, "127.0.0.1"), base_url="http://127.0.0.1:8765") as client:
        answer = client.get("/events")
    assert answer.status_code == 429
    assert answer.json()["status_code"] == 429
    assert answer.headers["retry-after"] == "30"


def test_a_quiet_stream_sends_heartbeats_and_ends_with_its_client(
    service: MeterService, access: RoomAccess
) -> None:
    hub = EventHub(service._engine, heartbeat=0.05)
    app: ASGIApp = create_app(service, access, events=hub)
    sent: list[Message] = []

    async def run() -> None:
        gone = asyncio.Event()
        requested = False

        async def receive() -> Message:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)
            if b"".join(m.get("body", b"") for m in sent).count(b": keep-alive") >= 2:
                gone.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/events",
            "raw_path": b"/events",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8765")],
            "client": ("127.0.0.1", 50123),
            "server": ("127.0.0.1", 8765),
        }
        await asyncio.wait_for(app(scope, receive, send), 10)

    asyncio.run(run())
    assert sent[0]["status"] == 200
    body = b"".join(message.get("body", b"") for message in sent)
    assert body.startswith(b": connected\r\n")
    assert b": keep-alive" in body
    assert b"data:" not in body  # a comment is no event
    assert hub.open_streams() == 0
