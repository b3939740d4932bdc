"""The team server room's live view in the background (`services.room_watch`, issue 13).

Against an in-memory HTTP transport: what the room answers, a room that stops
answering (the last view stays, marked stale), events on the room's stream
(one more read each burst), and a quick close while the stream hangs. The tray
against a real team server is tests/ui/test_team_tray.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from mudameter_desktop.domain.statuses import Counts
from mudameter_desktop.services.changes import ChangeKind, MeetingChange
from mudameter_desktop.services.remote_room import RemoteError, RemoteRoom
from mudameter_desktop.services.room_watch import RoomNow, RoomWatch, change_of
from mudameter_desktop.services.team_client import Backoff, HostLink

LINK = HostLink.parse("http://127.0.0.1:9/rooms/team-a/#host=secret-host-token-0123456789")
FAST = Backoff(0.02, 0.05)


def live_json(engaged: int = 1) -> dict[str, Any]:
    return {
        "meeting": {
            "id": 7,
            "title": "Stand-up",
            "starts_at": "2026-11-27T10:00:00Z",
            "ends_at": "2026-11-27T11:00:00Z",
        },
        "plan": None,
        "running": True,
        "room": {"speaking": 0, "engaged": engaged, "disengaged": 1},
        "totals": {"speaking": 0, "engaged": 3, "disengaged": 1},
        "recent": [{"speaking": 0, "engaged": 1, "disengaged": 1}],
        "muda": 0.25,
    }


class Room:
    """A fake room: `/live` answers `answer` (or fails), `/events` streams `events`."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] | None = live_json()
        self.reads = 0
        self.events: list[str] = []
        self.hang = threading.Event()  # set: the event stream stays open and silent
        self.released = threading.Event()
        self.authorization: set[str] = set()
        self.key = "the room's key/+"

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.authorization.add(request.headers.get("Authorization", ""))
        if request.url.path.endswith("/live"):
            self.reads += 1
            if self.answer is None:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(200, json=self.answer)
        if request.url.path.endswith("/participant-key"):
            return httpx.Response(200, json={"participant_key": self.key})
        if request.url.path.endswith("/events"):
            return httpx.Response(200, content=self._stream())
        return httpx.Response(404, json={"detail": "no"})

    def _stream(self) -> Iterator[bytes]:
        """The events as they are added; open until released when `hang` is set."""
        yield b": connected\n\n"
        while True:
            while self.events:
                yield f"data: {self.events.pop(0)}\n\n".encode()
            if not self.hang.is_set() or self.released.wait(0.01):
                return


@pytest.fixture
def room() -> Room:
    return Room()


def watching(room: Room) -> tuple[RoomWatch, list[RoomNow]]:
    seen: list[RoomNow] = []
    transport = httpx.MockTransport(room.handle)
    watch = RoomWatch(RemoteRoom(LINK, transport=transport), backoff=FAST, transport=transport)
    watch.start(seen.append)
    return watch, seen


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_room_is_read_at_once_with_the_host_token(room: Room) -> None:
    watch, seen = watching(room)
    try:
        wait_for(lambda: seen)
        view = seen[0].view
        assert view is not None
        assert view.meeting is not None
        assert (view.meeting.id, view.meeting.title) == (7, "Stand-up")
        assert view.meeting.starts_at == datetime(2026, 11, 27, 10, tzinfo=UTC)
        assert view.room == Counts(engaged=1, disengaged=1)
        assert view.muda == 0.25
        assert view.status is None  # the room's view, nobody's own status
        assert not seen[0].stale
        assert (
            seen[0].join_link == "http://127.0.0.1:9/rooms/team-a/#key=the%20room%27s%20key%2F%2B"
        )
        assert room.authorization == {"Bearer secret-host-token-0123456789"}
    finally:
        watch.close()


def test_a_room_that_stops_answering_keeps_its_last_view_marked_stale(room: Room) -> None:
    watch, seen = watching(room)
    try:
        wait_for(lambda: seen)
        room.answer = None
        watch.refresh()
        wait_for(lambda: watch.now.stale)
        assert watch.now.view == seen[0].view
        assert (watch.now.problem or "").startswith("The team server cannot be reached (")
        room.answer = live_json(engaged=2)  # back: read again without being asked
        wait_for(lambda: not watch.now.stale)
        assert watch.now.view is not None
        assert watch.now.view.room == Counts(engaged=2, disengaged=1)
    finally:
        watch.close()


def test_each_event_on_the_rooms_stream_makes_a_read(room: Room) -> None:
    room.hang.set()  # one stream, open all along
    watch, seen = watching(room)
    try:
        wait_for(lambda: seen)
        time.sleep(0.2)  # the stream is followed; its opening's read is done
        reads = room.reads
        room.answer = live_json(engaged=4)
        room.events.append('{"meeting_id": 7, "kind": "status"}')
        wait_for(lambda: seen[-1].view is not None and seen[-1].view.room.engaged == 4)
        assert room.reads == reads + 1
    finally:
        room.released.set()
        watch.close()


def test_close_is_quick_while_the_stream_is_silent(room: Room) -> None:
    room.hang.set()
    watch, seen = watching(room)
    wait_for(lambda: seen)
    time.sleep(0.1)  # the follower is blocked reading the silent stream
    started = time.monotonic()
    watch.close(timeout=1.0)
    assert time.monotonic() - started < 1.5
    room.released.set()


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {**live_json(), "room": None},
        {**live_json(), "meeting": {"id": 1, "title": "x", "starts_at": "2026-11-27T10:00:00"}},
        {**live_json(), "recent": [{"speaking": 1}]},
    ],
)
def test_an_answer_that_is_not_a_live_view_is_a_remote_error(answer: dict[str, Any]) -> None:
    def handle(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    with pytest.raises(RemoteError):
        RemoteRoom(LINK, transport=httpx.MockTransport(handle)).live()


@pytest.mark.parametrize(
    ("data", "change"),
    [
        ('{"meeting_id": 7, "kind": "status"}', MeetingChange(7, ChangeKind.STATUS)),
        (' {"meeting_id": 3, "kind": "deleted"}', MeetingChange(3, ChangeKind.DELETED)),
        ('{"meeting_id": null, "kind": "resync"}', None),  # read everything again
        ('{"meeting_id": 7, "kind": "exploded"}', None),
        ("not json", None),
    ],
)
def test_an_events_data_is_a_change_or_a_resync(data: str, change: MeetingChange | None) -> None:
    assert change_of(data) == change
