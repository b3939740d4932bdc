"""The desktop app's clicks to a team server's room (SPEC §7, last bullet; issue 13).

Clicks are kept in the local SQLite outbox with their own time and sent in order,
oldest first, each once; an unreachable server means offline, a wait that doubles,
and every kept click delivered when it is back, also by a new client on the same
store (after a restart). The link, the 4xx rules and the backoff are checked with
httpx's mock transport; delivery against a real `mudameter --headless` team server
on a throwaway PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.services.team_client import (
    Backoff,
    DroppedClick,
    HostLink,
    TeamClient,
    TeamState,
)
from mudameter_desktop.store.database import OpenedStore, open_store, sqlite_url
from tests.reliability.conftest import wait_for
from tests.team_server import TeamServer

TOKEN = "host-token/with+odd=characters_0123456789abcdef"  # noqa: S105 - a test token
LINK = f"https://meter.example.com:8443/rooms/team-a/#host={TOKEN.replace('/', '%2F')}"
FAST = Backoff(first=0.05, last=0.4)


# -- the host link --------------------------------------------------------------


def test_a_host_link_gives_its_server_room_and_token() -> None:
    link = HostLink.parse(f"  {LINK}\n")
    assert link == HostLink("https://meter.example.com:8443", "team-a", TOKEN)
    assert link.room_url == "https://meter.example.com:8443/rooms/team-a"
    assert HostLink.parse(link.text) == link
    assert TOKEN not in repr(link) and TOKEN not in str(link)  # never in a log line
    behind_a_prefix = HostLink.parse("http://10.0.0.5/meter/rooms/ops-2#host=abc")
    assert behind_a_prefix.base_url == "http://10.0.0.5/meter"
    assert behind_a_prefix.room_url == "http://10.0.0.5/meter/rooms/ops-2"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("meter.example.com/rooms/team-a/#host=abc", "starts with https://"),
        ("ftp://meter.example.com/rooms/team-a/#host=abc", "starts with https://"),
        ("https://meter.example.com/#host=abc", "names its room"),
        ("https://meter.example.com/rooms/Team A/#host=abc", "names its room"),
        ("https://meter.example.com/rooms/team-a/#key=abc", "join link"),
        ("https://meter.example.com/rooms/team-a/", "no host token"),
        ("https://meter.example.com/rooms/team-a/#host=", "empty or has spaces"),
        ("https://meter.example.com/rooms/team-a/?x=1#host=abc", "no query"),
    ],
)
def test_a_bad_link_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        HostLink.parse(text)


def test_the_backoff_doubles_from_one_second_to_thirty() -> None:
    waits = [Backoff().after(failures) for failures in range(1, 9)]
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]


# -- against a scripted server (httpx's mock transport) ------------------------------


@pytest.fixture
def local(tmp_path: Path) -> Iterator[OpenedStore]:
    """The desktop app's own SQLite store, where the outbox lives."""
    opened = open_store(sqlite_url(tmp_path / "mudameter.sqlite3"))
    yield opened
    opened.close()


class Scripted:
    """A mock server: answers from a list (a code, or an exception), then 200s."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, object]] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.url.path == "/rooms/team-a/users/status"
        body = json.loads(request.content)
        self.bodies.append(body)
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        if answer == 200:
            return httpx.Response(200, json={"participant_id": "p-1", "meeting_id": 1})
        return httpx.Response(answer, json={"status_code": answer, "detail": f"no ({answer})"})


class Watched:
    """A client with its reports collected."""

    def __init__(self, store: OpenedStore, server: Scripted | None, link: str = LINK) -> None:
        self.states: list[TeamState] = []
        self.dropped: list[DroppedClick] = []
        self.client = TeamClient(
            HostLink.parse(link),
            store.engine,
            on_state=self.states.append,
            on_dropped=self.dropped.append,
            backoff=FAST,
            transport=server.transport if server is not None else None,
        )

    def settled(self, timeout: float = 20.0) -> None:
        wait_for(
            lambda: bool(self.states) and self.states[-1].waiting == 0 and self.states[-1].online,
            timeout,
            "every click delivered",
        )


def test_a_click_is_sent_with_its_own_time_and_the_participant_remembered(
    local: OpenedStore,
) -> None:
    server = Scripted()
    watched = Watched(local, server)
    first = watched.client.record_status(Status.ENGAGED)
    watched.client.start()
    watched.settled()
    second = watched.client.record_status(Status.SPEAKING)
    wait_for(lambda: len(server.bodies) == 2 and watched.states[-1].waiting == 0)
    watched.client.close()
    assert server.bodies == [
        {"status": "engaged", "kind": "local", "at": first.at.isoformat()},
        {
            "status": "speaking",
            "kind": "local",
            "at": second.at.isoformat(),
            "participant_id": "p-1",
        },
    ]
    assert first.at.tzinfo is not None and first.at.utcoffset() == timedelta(0)
    assert watched.client.pending() == []
    # The participant survives a restart: a new client on the same store knows it.
    assert Watched(local, Scripted()).client.participant_id == "p-1"


def test_clicks_in_one_instant_still_get_distinct_increasing_times(local: OpenedStore) -> None:
    instant = datetime(2026, 12, 1, 10, tzinfo=UTC)
    client = TeamClient(HostLink.parse(LINK), local.engine, clock=lambda: instant)
    times = [client.record_status(Status.ENGAGED).at for _ in range(3)]
    assert times == sorted(set(times)) and times[0] == instant


def test_a_refused_click_is_dropped_and_reported_and_the_next_one_sent(
    local: OpenedStore,
) -> None:
    server = Scripted(400)
    watched = Watched(local, server)
    refused = watched.client.record_status(Status.SPEAKING)
    watched.client.record_status(Status.ENGAGED)
    watched.client.start()
    watched.settled()
    watched.client.close()
    assert [body["status"] for body in server.bodies] == ["speaking", "engaged"]
    assert watched.dropped == [DroppedClick(Status.SPEAKING, refused.at, "400: no (400)")]


@pytest.mark.parametrize(
    "failure",
    [503, 500, 401, 404, 429, httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
    ids=str,
)
def test_an_unreachable_server_keeps_the_click_and_tries_again(
    local: OpenedStore, failure: int | Exception
) -> None:
    server = Scripted(failure, failure)
    watched = Watched(local, server)
    made = watched.client.record_status(Status.DISENGAGED)
    watched.client.start()
    watched.settled()
    watched.client.close()
    assert [body["at"] for body in server.bodies] == [made.at.isoformat()] * 3
    assert watched.states[0] == TeamState(online=True, waiting=1)
    offline = [state for state in watched.states if not state.online]
    assert offline and offline[0].waiting == 1 and offline[0].problem
    assert watched.dropped == []


def test_close_stops_the_sender_promptly_while_it_waits_to_retry(local: OpenedStore) -> None:
    server = Scripted(*[503] * 100)
    client = TeamClient(
        HostLink.parse(LINK), local.engine, backoff=Backoff(30, 30), transport=server.transport
    )
    client.record_status(Status.ENGAGED)
    client.start()
    wait_for(lambda: len(server.bodies) == 1)
    started = datetime.now(UTC)
    client.close()
    assert datetime.now(UTC) - started < timedelta(seconds=1)
    assert len(client.pending()) == 1  # kept for the next start


def test_a_hanging_server_never_holds_up_a_click_nor_the_quit(local: OpenedStore) -> None:
    """The sender waits for the answer; clicks are kept meanwhile, each in a few ms, and
    `close` leaves the request behind (the kept click is sent again at the next start)."""
    answer = threading.Event()

    def hang(request: httpx.Request) -> httpx.Response:
        answer.wait(10)
        return httpx.Response(200, json={"participant_id": "p-1"})

    client = TeamClient(HostLink.parse(LINK), local.engine, transport=httpx.MockTransport(hang))
    client.record_status(Status.ENGAGED)
    client.start()
    slowest = timedelta(0)
    for status in (Status.SPEAKING, Status.DISENGAGED) * 10:
        before = datetime.now(UTC)
        client.record_status(status)
        slowest = max(slowest, datetime.now(UTC) - before)
    assert slowest < timedelta(milliseconds=100)
    before = datetime.now(UTC)
    client.close(timeout=0.2)
    assert datetime.now(UTC) - before < timedelta(seconds=1)
    answer.set()
    assert len(client.pending()) == 21  # none deleted: nothing was acknowledged


# -- against a real team server ------------------------------------------------------


def real(store: OpenedStore, room_server: TeamServer) -> Watched:
    return Watched(store, None, room_server.host_link)


def delivered(client: TeamClient, room_server: TeamServer) -> list[tuple[str, datetime]]:
    """The host's stored statuses in the room, in time order."""
    return [
        (status, at)
        for participant, status, at in room_server.status_changes()
        if participant == client.participant_id
    ]


@pytest.mark.pg
@pytest.mark.slow
def test_clicks_reach_the_room_in_order_each_once_with_their_times(
    local: OpenedStore, room_server: TeamServer
) -> None:
    watched = real(local, room_server)
    made = [
        watched.client.record_status(status)
        for status in (Status.SPEAKING, Status.ENGAGED, Status.DISENGAGED, Status.ENGAGED)
    ]
    watched.client.start()
    watched.settled()
    watched.client.close()
    assert watched.dropped == []
    assert delivered(watched.client, room_server) == [(item.status.value, item.at) for item in made]
    room = room_server.get("/meetings").json()
    meeting = room_server.get(f"/meetings/{room['items'][0]['id']}").json()
    assert meeting["room"] == {"speaking": 0, "engaged": 1, "disengaged": 0}


@pytest.mark.pg
@pytest.mark.slow
def test_kept_clicks_survive_a_restart_of_the_app(tmp_path: Path, room_server: TeamServer) -> None:
    """Clicks kept while the server was away reach it from the next run, as the same host."""
    path = sqlite_url(tmp_path / "mudameter.sqlite3")
    store = open_store(path)
    first_run = real(store, room_server)
    first_run.client.start()
    first_run.client.record_status(Status.SPEAKING)
    first_run.settled()
    host = first_run.client.participant_id
    assert host is not None
    room_server.stop()
    kept = [first_run.client.record_status(s) for s in (Status.ENGAGED, Status.DISENGAGED)]
    wait_for(lambda: not first_run.states[-1].online and first_run.states[-1].waiting == 2)
    first_run.client.close()
    store.close()  # the app quits (or is killed: nothing but the file is kept)

    room_server.resume()
    store = open_store(path)
    try:
        second_run = real(store, room_server)
        assert second_run.client.participant_id == host
        assert second_run.client.pending() == kept
        second_run.client.start()
        second_run.settled()
        second_run.client.close()
    finally:
        store.close()
    assert [status for status, _ in delivered(second_run.client, room_server)] == [
        "speaking",
        "engaged",
        "disengaged",
    ]
    assert delivered(second_run.client, room_server)[1:] == [
        (item.status.value, item.at) for item in kept
    ]


@pytest.mark.pg
@pytest.mark.slow
def test_offline_backs_off_then_delivers_once_when_the_server_is_back(
    local: OpenedStore, room_server: TeamServer
) -> None:
    tries: list[float] = []
    lock = threading.Lock()

    class Counting(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            with lock:
                tries.append(datetime.now(UTC).timestamp())
            return super().handle_request(request)

    states: list[TeamState] = []
    client = TeamClient(
        HostLink.parse(room_server.host_link),
        local.engine,
        on_state=states.append,
        backoff=Backoff(0.1, 0.8),
        transport=Counting(),
    )
    client.record_status(Status.ENGAGED)
    client.start()

    def settled() -> bool:
        return bool(states) and states[-1] == TeamState(online=True, waiting=0)

    wait_for(settled, what="the first click delivered")
    room_server.stop()
    tries.clear()
    late = client.record_status(Status.DISENGAGED)
    wait_for(lambda: len(tries) >= 4, what="four tries while the server is away")
    assert not states[-1].online and states[-1].waiting == 1
    gaps = [later - earlier for earlier, later in itertools.pairwise(tries)]
    assert gaps[2] > gaps[0] * 1.5  # it waits longer each time
    room_server.resume()
    wait_for(settled, timeout=30, what="the kept click delivered")
    client.close()
    assert delivered(client, room_server) == [
        ("engaged", delivered(client, room_server)[0][1]),
        ("disengaged", late.at),
    ]


KEEPER = """
import sys, time
from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.services.team_client import HostLink, TeamClient
from mudameter_desktop.store.database import open_store, sqlite_url
store = open_store(sqlite_url(sys.argv[1]))
client = TeamClient(HostLink.parse(sys.argv[2]), store.engine)
client.start()
for status in sys.argv[3:]:
    item = client.record_status(Status(status))
    print(item.at.isoformat(), flush=True)
print("kept", flush=True)
time.sleep(600)
"""


@pytest.mark.pg
@pytest.mark.slow
def test_clicks_kept_by_a_killed_app_arrive_after_the_restart(
    tmp_path: Path, room_server: TeamServer
) -> None:
    """Server away, two clicks, SIGKILL (no goodbye), server back, the app again: both
    arrive, in order, each once, with the time they were made."""
    path = tmp_path / "mudameter.sqlite3"
    room_server.stop()
    keeper = subprocess.Popen(
        [sys.executable, "-c", KEEPER, str(path), room_server.host_link, "engaged", "disengaged"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert keeper.stdout is not None
    made = [datetime.fromisoformat(keeper.stdout.readline().strip()) for _ in range(2)]
    assert keeper.stdout.readline() == "kept\n"
    keeper.send_signal(signal.SIGKILL)
    keeper.wait(20)
    keeper.stdout.close()

    room_server.resume()
    store = open_store(sqlite_url(path))
    try:
        watched = real(store, room_server)
        watched.client.start()
        watched.settled()
        watched.client.close()
    finally:
        store.close()
    assert delivered(watched.client, room_server) == [
        ("engaged", made[0]),
        ("disengaged", made[1]),
    ]
