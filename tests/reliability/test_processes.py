"""Real server processes on one PostgreSQL database (SPEC §7, issue 12).

Two or three `mudameter --headless --database-url postgresql+psycopg://…`
servers (one with `--workers 2`); 20 clients (threads) send each request to
one of them at random, as a reverse proxy without affinity would. The buckets in the database must
equal SPEC §1's definition recomputed from the raw status changes, across a
real minute boundary, with no 5xx; a server killed mid-write loses no
acknowledged status; PostgreSQL restarted under load gives clean 503s, then
200s again, and nothing half-written.
"""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from mudameter_desktop.domain.meetings import floor_minute
from mudameter_desktop.domain.statuses import Counts
from mudameter_desktop.store.database import make_engine
from mudameter_desktop.store.tables import StatusChange
from tests.postgres import PostgresCluster
from tests.reliability.conftest import App, answers_health, free_port, headless_args, wait_for
from tests.services.definition import Buckets, differences, meeting_ids, recomputed, stored

pytestmark = [pytest.mark.pg, pytest.mark.slow]

ROOM_KEY = "team-server-room-key-0123456789abcdef"  # ≥ 22 characters
HEADERS = {"Authorization": f"Bearer {ROOM_KEY}"}
STATUSES = ("speaking", "engaged", "disengaged")
CLIENTS = 20


@dataclass
class Database:
    url: str
    engine: Engine


@pytest.fixture
def database(
    request: pytest.FixtureRequest, postgres_cluster: PostgresCluster
) -> Iterator[Database]:
    """A migrated database; on a cluster the test may restart if it is marked so."""
    cluster = postgres_cluster
    if request.node.get_closest_marker("restarts_postgres") is not None:
        cluster = request.getfixturevalue("restartable_cluster")
    url = cluster.migrated_database()
    engine = make_engine(url)
    try:
        yield Database(url, engine)
    finally:
        engine.dispose()
        cluster.drop_database(url)


Servers = Callable[..., list[tuple[str, App]]]


@pytest.fixture
def servers(tmp_path: Path, apps: Callable[..., App], database: Database) -> Iterator[Servers]:
    """Start headless servers on the database, one per entry of `workers` (its `--workers`).

    Returns (URL, process) of each, all answering. At the end each gets SIGTERM
    first: a process manager killed outright would leave its workers behind.
    """
    started: list[tuple[str, App]] = []

    def start(*workers: int) -> list[tuple[str, App]]:
        for index, count in enumerate(workers):
            port = free_port()
            extra = ["--workers", str(count)] if count > 1 else []
            # All clients come from 127.0.0.1: one address, so no rate limit here.
            extra += ["--rate-limit", "0"]
            args = headless_args(
                tmp_path / f"server-{index}",
                port,
                "--database-url",
                database.url,
                "--room-key",
                ROOM_KEY,
                *extra,
            )
            started.append((f"http://127.0.0.1:{port}", apps(args)))
        for url, app in started:
            wait_for(partial(answers_health, url), timeout=60, what=f"the server at {url}")
            assert app.process.poll() is None, app.stderr.text
        return list(started)

    yield start
    for _, app in started:
        if app.process.poll() is None:
            app.signal(signal.SIGTERM)
    for _, app in started:
        with contextlib.suppress(subprocess.TimeoutExpired):
            app.process.wait(20)


@dataclass
class Person:
    """One client: its participant id, what was acknowledged, what went wrong."""

    participant: str | None = None
    meeting: int | None = None
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (participant, status)
    codes: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # 5xx other than a clean 503
    unavailable: list[float] = field(default_factory=list)  # when a clean 503 came
    transport_errors: list[tuple[str, float, str]] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # a live participant made anew


class Crowd:
    """`CLIENTS` threads, each a person sending every request to a server picked at random."""

    def __init__(self, urls: list[str], seed: int, clients: int = CLIENTS) -> None:
        self.urls = urls
        self.people = [Person() for _ in range(clients)]
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(person, seed + n), daemon=True)
            for n, person in enumerate(self.people)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self, person: Person, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - a test's choices
        clients = {
            url: httpx.Client(base_url=url, timeout=10.0, headers=HEADERS) for url in self.urls
        }
        try:
            while not self._stop.is_set():
                url = rng.choice(self.urls)
                try:
                    self._one(person, clients[url], rng)
                except httpx.HTTPError as error:
                    person.transport_errors.append((url, time.monotonic(), repr(error)))
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 0.02))
        finally:
            for client in clients.values():
                client.close()

    def _one(self, person: Person, client: httpx.Client, rng: random.Random) -> None:
        choice = rng.random()
        body: dict[str, Any] = {}
        if person.participant is not None:
            body["participant_id"] = person.participant
        if choice < 0.1 and person.meeting is not None:
            response = client.get(f"/meetings/{person.meeting}")  # a read settles the minutes
            self._check(person, response)
            return
        if choice < 0.2:
            response = client.post("/visit", json=body)
            status = None
        else:
            status = rng.choice(STATUSES)
            response = client.post("/users/status", json={**body, "status": status})
        if not self._check(person, response):
            return
        answer = response.json()
        meeting = answer["meeting"]["id"] if status is None else answer["meeting_id"]
        sent = person.participant
        if sent is not None and answer["participant_id"] != sent and meeting == person.meeting:
            # Every client acts every few ms: its participant never expires, so a new
            # one in the same meeting means a process did not see another's renewal.
            person.replaced.append(f"{sent} -> {answer['participant_id']} in meeting {meeting}")
        person.participant, person.meeting = answer["participant_id"], meeting
        if status is not None:
            person.acknowledged.append((answer["participant_id"], status))

    def _check(self, person: Person, response: httpx.Response) -> bool:
        """True for a 200; records anything else."""
        person.codes[response.status_code] += 1
        if response.status_code == 503 and _clean_error(response, 503):
            person.unavailable.append(time.monotonic())
        elif response.status_code >= 500:
            person.server_errors.append(f"{response.status_code} {response.text[:300]}")
        return response.status_code == 200

    # What the crowd saw

    def total(self, what: str) -> int:
        return sum(len(getattr(person, what)) for person in self.people)

    def codes(self) -> Counter[int]:
        return sum((person.codes for person in self.people), Counter())

    def server_errors(self) -> list[str]:
        return [error for person in self.people for error in person.server_errors]

    def replaced(self) -> list[str]:
        return [line for person in self.people for line in person.replaced]


@pytest.fixture
def crowd_on() -> Iterator[Callable[[list[str], int], Crowd]]:
    """Start crowds of clients; every one still running is stopped at the end, pass or fail."""
    crowds: list[Crowd] = []

    def start(urls: list[str], seed: int) -> Crowd:
        crowds.append(Crowd(urls, seed))
        return crowds[-1]

    yield start
    for crowd in crowds:
        crowd.stop()


def _clean_error(response: httpx.Response, code: int) -> bool:
    """Litestar's error shape, JSON, no stack trace."""
    try:
        body = response.json()
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and body.get("status_code") == code
        and "detail" in body
        and "Traceback" not in response.text
    )


def shown_by(url: str, ids: list[int]) -> Buckets:
    """The buckets a server's `GET /meetings/{id}` shows (each read settles first)."""
    shown: Buckets = {}
    with httpx.Client(base_url=url, timeout=30.0, headers=HEADERS) as client:
        for meeting_id in ids:
            response = client.get(f"/meetings/{meeting_id}")
            assert response.status_code == 200, response.text
            shown[meeting_id] = {
                datetime.fromisoformat(sample["minute"]): Counts(
                    sample["speaking"], sample["engaged"], sample["disengaged"]
                )
                for sample in response.json()["engagement_samples"]
            }
    return shown


def assert_buckets_equal_the_definition(engine: Engine, urls: list[str]) -> None:
    """Every server shows, and the table holds, the definition recomputed from the raw changes.

    Read within one minute (retried if a boundary passes meanwhile), so every
    read and the recomputation agree on which minutes exist.
    """
    for _attempt in range(3):
        start = datetime.now(UTC)
        ids = meeting_ids(engine)
        shown = {url: shown_by(url, ids) for url in urls}
        in_table = stored(engine)
        if floor_minute(datetime.now(UTC)) == floor_minute(start):
            break
    else:
        pytest.fail("could not read within one minute three times")
    assert ids, "no meeting was made"
    expected = recomputed(engine, start)
    assert differences(in_table, expected) == [], "the engagement_sample rows"
    for url, buckets in shown.items():
        assert differences(buckets, expected) == [], f"as {url} shows them"


def stored_statuses(engine: Engine) -> dict[str, list[str]]:
    """participant id -> its stored statuses, in order."""
    statuses: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for participant, status in connection.execute(
            select(StatusChange.participant_id, StatusChange.status).order_by(
                StatusChange.at, StatusChange.id
            )
        ):
            statuses.setdefault(participant, []).append(status)
    return statuses


def assert_no_acknowledged_status_lost(engine: Engine, crowd: Crowd) -> None:
    """Each person's acknowledged statuses are, in order, among what is stored.

    More may be stored (a request the server committed but could not answer).
    """
    stored_by = stored_statuses(engine)
    lost = []
    for person in crowd.people:
        acknowledged: dict[str, list[str]] = {}
        for participant, status in person.acknowledged:
            acknowledged.setdefault(participant, []).append(status)
        for participant, statuses in acknowledged.items():
            remaining = iter(stored_by.get(participant, []))
            if not all(status in remaining for status in statuses):  # an ordered subsequence
                lost.append(participant)
    assert lost == [], f"{len(lost)} participants lost acknowledged statuses"


def seconds_past_the_next_minute(extra: float = 4.0, least: float = 8.0) -> float:
    """How long to run so that a minute boundary passes (and `extra` seconds after it)."""
    now = datetime.now(UTC)
    return max(least, 60 - (now.second + now.microsecond / 1e6) + extra)


def test_requests_spread_over_servers_and_workers_store_the_definition(
    servers: Servers,
    database: Database,
    crowd_on: Callable[[list[str], int], Crowd],
) -> None:
    urls = [url for url, _ in servers(2, 1, 1)]  # four processes: uvicorn's workers too
    run_for = seconds_past_the_next_minute()
    started_minute = floor_minute(datetime.now(UTC))
    crowd = crowd_on(urls, 20261201)
    time.sleep(run_for)
    crowd.stop()
    assert floor_minute(datetime.now(UTC)) > started_minute  # a real minute boundary passed
    codes = crowd.codes()
    print(f"{run_for:.0f} s, {sum(codes.values())} requests: {dict(codes)}")
    assert crowd.server_errors() == []
    assert codes[200] > 5 * CLIENTS
    assert set(codes) <= {200, 429}, codes  # 429: a per-address cap, never an error
    assert crowd.replaced() == []
    assert_buckets_equal_the_definition(database.engine, urls)
    assert_no_acknowledged_status_lost(database.engine, crowd)


def test_a_server_killed_mid_write_loses_no_acknowledged_status(
    servers: Servers,
    database: Database,
    crowd_on: Callable[[list[str], int], Crowd],
) -> None:
    (victim_url, victim), (survivor_url, _) = servers(1, 1)
    crowd = crowd_on([victim_url, survivor_url], 4242)
    wait_for(lambda: crowd.total("acknowledged") >= 100, timeout=60, what="100 statuses")
    killed_at = time.monotonic()
    victim.process.kill()  # SIGKILL, while requests are in flight
    victim.wait()
    time.sleep(3)  # the survivor carries on; the victim's address now refuses
    crowd.stop()
    assert crowd.server_errors() == []
    late = [
        (url, at, error)
        for person in crowd.people
        for url, at, error in person.transport_errors
        if url != victim_url or at < killed_at
    ]
    assert late == [], "only requests to the killed server may fail, and only once it died"
    assert_no_acknowledged_status_lost(database.engine, crowd)
    assert_buckets_equal_the_definition(database.engine, [survivor_url])


@pytest.fixture(scope="module")
def restartable_cluster(postgres_cluster: PostgresCluster) -> Iterator[PostgresCluster]:
    """The session's PostgreSQL when the tests run it; else (a server given by URL, which
    is not theirs to stop) one of this module's own."""
    if postgres_cluster.is_own:
        yield postgres_cluster
        return
    own = PostgresCluster.own()
    own.start()
    try:
        yield own
    finally:
        own.stop()


@pytest.mark.restarts_postgres
def test_postgres_restarted_under_load_gives_clean_503s_then_200s(
    servers: Servers,
    database: Database,
    restartable_cluster: PostgresCluster,
    crowd_on: Callable[[list[str], int], Crowd],
) -> None:
    urls = [url for url, _ in servers(1, 1)]
    crowd = crowd_on(urls, 503)
    wait_for(lambda: crowd.total("acknowledged") >= 100, timeout=60, what="100 statuses")
    restartable_cluster.stop_server()
    try:
        down_at = time.monotonic()
        wait_for(
            lambda: crowd.total("unavailable") + crowd.total("server_errors") >= 20,
            timeout=15,
            what="answers while the database is down",
        )
        time.sleep(1.0)
    finally:
        restartable_cluster.start_server()
    assert crowd.server_errors() == [], f"while down: {dict(crowd.codes())}"
    up_at = time.monotonic()
    before = crowd.total("acknowledged")
    wait_for(lambda: crowd.total("acknowledged") >= before + 100, timeout=60, what="200s again")
    crowd.stop()
    database.engine.dispose()  # its pooled connections died with the server
    codes = crowd.codes()
    print(f"outage {up_at - down_at:.1f} s: {dict(codes)}")
    assert crowd.server_errors() == []  # a 503 with the error JSON, never a 500
    assert crowd.total("transport_errors") == 0  # the HTTP servers stayed up and answered
    assert set(codes) <= {200, 429, 503}, codes
    # Every 503 came while the database was down (or its pools were reconnecting).
    recovered = [at for p in crowd.people for at in p.unavailable if at > up_at + 10.0]
    assert recovered == [], f"{len(recovered)} requests still failed 10 s after the restart"
    assert_no_acknowledged_status_lost(database.engine, crowd)
    assert_buckets_equal_the_definition(database.engine, urls)
