"""The history of a team server's room over HTTP (`RemoteRoom`; SPEC §7, issue 13).

Against a real `mudameter --headless` team server on a throwaway PostgreSQL
(tests/team_server.py): every read equals what the room's own `MeetingHistory`
answers from the same database; a missing meeting is a `NotFoundError` as
locally; rename and delete act on the room; a stopped, hanging or failing
server is a `RemoteUnavailableError` within the timeouts, a refused link a
`RemoteRefusedError`. Error answers the real server never gives come from
httpx's mock transport.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from mudameter_desktop.domain.trends import Period
from mudameter_desktop.services.errors import InvalidInputError, NotFoundError
from mudameter_desktop.services.history import MeetingHistory
from mudameter_desktop.services.remote_room import (
    RemoteError,
    RemoteRefusedError,
    RemoteRoom,
    RemoteUnavailableError,
)
from mudameter_desktop.services.team_client import HostLink
from mudameter_desktop.store.tables import Room
from tests.postgres import PostgresCluster
from tests.reliability.conftest import free_port
from tests.team_server import TeamServer

pytestmark = [pytest.mark.pg, pytest.mark.slow]

ZONE = ZoneInfo("Europe/Berlin")  # the room's (tests/team_server.py)
MEETINGS = 22  # two pages of 20
MISSING = 10**12


@dataclass
class Room_:
    server: TeamServer
    link: HostLink
    truth: MeetingHistory  # the room's own reads, on the server's database

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{self.server.room_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.server.host_token}"},
            timeout=10,
        )

    def start_meeting(self, starts_at: datetime, title: str) -> int:
        answer = self.post(
            "/meetings",
            {"starts_at": starts_at.isoformat(), "title": title, "duration_minutes": 30},
        )
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    def click(self, status: str, at: datetime, participant: str | None) -> str:
        body = {"status": status, "kind": "local", "at": at.isoformat()}
        if participant is not None:
            body["participant_id"] = participant
        answer = self.post("/users/status", body)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["participant_id"])


def seeded_room(cluster: PostgresCluster, data_dir: Path) -> Room_:
    """A team server whose room has 22 past meetings, one a day, every fifth a "Retro";
    the host clicked in the last two (also the history window's tests use it)."""
    server = TeamServer.start(cluster, data_dir)
    try:
        with server.engine.connect() as connection:
            room_id = connection.execute(
                select(Room.id).where(Room.slug == server.slug)
            ).scalar_one()
        truth = MeetingHistory(
            server.engine, lambda: None, lambda: datetime.now(UTC), ZONE, room_id
        )
        seeded = Room_(server, HostLink.parse(server.host_link), truth)
        today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
        ids = [
            seeded.start_meeting(
                today - timedelta(days=MEETINGS - number),
                "Retro" if number % 5 == 0 else f"Meeting {number}",
            )
            for number in range(MEETINGS)
        ]
        assert len(set(ids)) == MEETINGS
        host = None
        for days, status in ((2, "disengaged"), (1, "engaged")):
            start = today - timedelta(days=days)
            host = seeded.click(status, start + timedelta(minutes=1), host)
            host = seeded.click("speaking", start + timedelta(minutes=10), host)
    except BaseException:
        server.close()
        raise
    return seeded


@pytest.fixture(scope="module")
def room(
    postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Room_]:
    seeded = seeded_room(postgres_cluster, tmp_path_factory.mktemp("remote-history"))
    try:
        yield seeded
    finally:
        seeded.server.close()


@pytest.fixture
def remote(room: Room_) -> Iterator[RemoteRoom]:
    history = RemoteRoom(room.link)
    yield history
    history.close()


def test_pages_are_the_rooms_own(room: Room_, remote: RemoteRoom) -> None:
    first, second = remote.list_meetings(1), remote.list_meetings(2)
    assert (first.page, first.page_size, first.total, first.pages) == (1, 20, MEETINGS, 2)
    assert len(first.items) == 20 and len(second.items) == 2
    assert first == room.truth.list_meetings(1)
    assert second == room.truth.list_meetings(2)
    assert first.items[0].title == f"Meeting {MEETINGS - 1}"  # newest first
    assert remote.list_meetings(3).items == []
    with pytest.raises(InvalidInputError):
        remote.list_meetings(0)


def test_a_meetings_detail_is_the_rooms_own(room: Room_, remote: RemoteRoom) -> None:
    retro = remote.list_meetings(1).items[1]
    assert retro.title == "Retro"
    detail = remote.meeting_detail(retro.id)
    assert detail == room.truth.meeting_detail(retro.id)
    assert [(p.kind, p.status) for p in detail.participants] == [("local", "speaking")]
    assert (detail.totals.disengaged, detail.totals.speaking) == (9, 20)  # minutes 1-9, 10-29
    assert len(detail.engagement_samples) == 30  # every minute of the meeting, 0 too
    assert remote.summary(retro.id) == room.truth.summary(retro.id)


def test_trends_heatmap_and_titles_are_the_rooms_own(room: Room_, remote: RemoteRoom) -> None:
    for by in Period:
        assert remote.trends(by) == room.truth.trends(by)
    assert sum(point.meetings for point in remote.trends(Period.WEEK)) == MEETINGS
    assert remote.heatmap() == room.truth.heatmap()
    titles = remote.wasteful_titles(10)
    assert titles == room.truth.wasteful_titles(10)
    assert [(t.title, t.meetings) for t in titles] == [("Retro", 5)]


def test_a_missing_meeting_is_not_found_as_locally(remote: RemoteRoom) -> None:
    for action in (
        lambda: remote.meeting_detail(MISSING),
        lambda: remote.summary(MISSING),
        lambda: remote.rename_meeting(MISSING, "Nope"),
        lambda: remote.delete_meeting(MISSING),
        lambda: remote.meeting_detail(0),
    ):
        with pytest.raises(NotFoundError):
            action()


def test_rename_and_delete_act_on_the_room(room: Room_, remote: RemoteRoom) -> None:
    meeting_id = room.start_meeting(datetime.now(UTC) - timedelta(days=60), "Kick-off")
    renamed = remote.rename_meeting(meeting_id, "Kick-off, renamed")
    assert (renamed.id, renamed.title) == (meeting_id, "Kick-off, renamed")
    assert room.truth.summary(meeting_id).title == "Kick-off, renamed"
    with pytest.raises(InvalidInputError):
        remote.rename_meeting(meeting_id, "a NUL \x00 is refused")
    remote.delete_meeting(meeting_id)
    with pytest.raises(NotFoundError):
        room.truth.summary(meeting_id)
    with pytest.raises(NotFoundError):
        remote.delete_meeting(meeting_id)
    assert remote.list_meetings(1).total == MEETINGS


def test_a_refused_link_or_a_removed_room_says_so(room: Room_) -> None:
    wrong_token = HostLink(room.link.base_url, room.link.slug, "not-the-host-token-0123456789")
    with pytest.raises(RemoteRefusedError, match="refused the host link"):
        RemoteRoom(wrong_token).list_meetings(1)
    no_room = HostLink(room.link.base_url, "no-such-room", room.link.token)
    with pytest.raises(RemoteRefusedError):
        RemoteRoom(no_room).list_meetings(1)


def test_a_stopped_server_is_unavailable_at_once(room: Room_, remote: RemoteRoom) -> None:
    assert remote.list_meetings(1).total == MEETINGS  # connected, a connection kept
    room.server.stop()
    try:
        began = time.monotonic()
        with pytest.raises(RemoteUnavailableError, match=r"cannot be reached|does not answer"):
            remote.list_meetings(1)
        assert time.monotonic() - began < 2
    finally:
        room.server.resume()
    assert remote.list_meetings(1).total == MEETINGS  # back


def test_nothing_listening_is_unavailable_at_once() -> None:
    link = HostLink(f"http://127.0.0.1:{free_port()}", "team-a", "token-0123456789abcdef")
    began = time.monotonic()
    with pytest.raises(RemoteUnavailableError, match="cannot be reached"):
        RemoteRoom(link).meeting_detail(1)
    assert time.monotonic() - began < 2


@contextlib.contextmanager
def hanging_server() -> Iterator[HostLink]:
    """A server on 127.0.0.1 that accepts connections and never answers; its room's link."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        yield HostLink(f"http://127.0.0.1:{port}", "team-a", "token-0123456789abcdef")
    finally:
        stop.set()
        thread.join(2)
        for connection in accepted:
            connection.close()
        listener.close()


@pytest.fixture
def hanging() -> Iterator[HostLink]:
    with hanging_server() as link:
        yield link


def test_a_hanging_server_is_unavailable_after_the_read_timeout(hanging: HostLink) -> None:
    remote = RemoteRoom(hanging, read_timeout=0.3)
    began = time.monotonic()
    with pytest.raises(RemoteUnavailableError, match="does not answer"):
        remote.trends(Period.WEEK)
    assert 0.25 < time.monotonic() - began < 2


def scripted(status: int, body: bytes = b"{}") -> RemoteRoom:
    def answer(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    link = HostLink("https://meter.example.com", "team-a", "token-0123456789abcdef")
    return RemoteRoom(link, transport=httpx.MockTransport(answer))


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_failing_server_is_unavailable(status: int) -> None:
    with pytest.raises(RemoteUnavailableError, match=str(status)):
        scripted(status, b'{"detail": "busy"}').heatmap()


def test_an_answer_of_the_wrong_shape_is_a_remote_error_not_a_crash() -> None:
    with pytest.raises(RemoteError, match="could not be read"):
        scripted(200, b'{"items": [{"id": "one"}]}').list_meetings(1)
    with pytest.raises(RemoteError, match="not JSON"):
        scripted(200, b"<html>").heatmap()


def test_the_host_token_goes_in_the_authorization_header() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": []})

    link = HostLink("https://meter.example.com/prefix", "team-a", "token-0123456789abcdef")
    remote = RemoteRoom(link, transport=httpx.MockTransport(answer))
    assert remote.trends(Period.MONTH) == []
    assert remote.heatmap() == []
    assert [str(request.url) for request in seen] == [
        "https://meter.example.com/prefix/rooms/team-a/trends?by=month",
        "https://meter.example.com/prefix/rooms/team-a/trends/heatmap",
    ]
    assert seen[0].headers["authorization"] == "Bearer token-0123456789abcdef"
    assert "token-0123456789abcdef" not in repr(remote)  # never in a log or a traceback
    remote.close()
    with pytest.raises(RemoteUnavailableError):
        remote.heatmap()
