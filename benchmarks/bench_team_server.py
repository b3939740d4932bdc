"""The team server on PostgreSQL (SPEC §7, issue 12): workers, and a company's open load.

1. Saturated `POST /users/status`: keep-alive clients (each a participant that
   first visits) post as fast as the server answers, against
   `mudameter --headless --database-url postgresql+psycopg://… --workers N` for
   N = 1, 2, 4, and, in the same run, against one process on SQLite (the
   desktop app's store): throughput and p99, each a median of `repeats` rounds.
2. A company, open loop: 200 rooms x 20 participants, each clicking every 30 s
   and polling every 5 s (one request per poll, alternately `POST /visit` and
   `GET /meetings/{id}` as the participant page's refresh does both; ~930
   requests a second). Requests leave at their scheduled instants whatever the
   answers do; latency runs from the scheduled instant (queueing in the load
   generator included), so a server that falls behind shows in p99.

The benchmark starts its own PostgreSQL cluster (`tests/postgres.py`, durability
off: a throwaway server), one database per case. Where the app under test
lacks a feature this falls back and says so in the figures (`mode`):
without `--workers`, N single-process servers on different ports, round-robin
by the load generator; without `mudameter rooms`, every participant in the room
`default`. Everything runs on 127.0.0.1, on the same cores as the servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import PYTHON, ROOT, free_port, median, running, wait_for_port
from benchmarks.loadgen import LoadResult

ROOM_KEY = "bench-team-server-room-key-0123456789"  # ≥ 22 characters
STATUSES = ("speaking", "engaged", "disengaged")
WORKERS = (1, 2, 4)
SATURATION_CLIENTS = 32
SPREAD_ROOMS = 8  # saturation spread over rooms: each room's writes are serialised
ROOMS, PEOPLE_PER_ROOM = 200, 20
CLICK_EVERY, POLL_EVERY = 30.0, 5.0
CONNECTIONS = 64  # the company's load generator: keep-alive connections per server port


# -- the servers -----------------------------------------------------------------


def _help() -> str:
    done = subprocess.run(
        [PYTHON, "-m", "mudameter_desktop", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout


@dataclass
class Features:
    """What the app under test offers (the team server is being built)."""

    workers: bool
    rate_limit: bool
    trusted_proxy: bool

    @classmethod
    def probe(cls) -> Features:
        text = _help()
        return cls("--workers" in text, "--rate-limit" in text, "--trusted-proxy" in text)


@dataclass
class Server:
    """One or more server processes; the ports the load goes to."""

    ports: list[int]
    mode: str


def _command(
    port: int, folder: Path, url: str | None, workers: int, features: Features
) -> list[str]:
    command = [PYTHON, "-m", "mudameter_desktop", "--headless", "--port", str(port),
               "--data-dir", str(folder), "--room-key", ROOM_KEY]  # fmt: skip
    if url is not None:
        command += ["--database-url", url]
        if workers > 1:
            command += ["--workers", str(workers)]
        if features.rate_limit:
            command += ["--rate-limit", "0"]  # the proxy's job on a team server
        if features.trusted_proxy:
            command += ["--trusted-proxy", "127.0.0.1"]  # each client its own address
    return command


def _ready(port: int, timeout: float = 60.0) -> None:
    wait_for_port(port, timeout)
    deadline = time.monotonic() + timeout
    answered = 0
    while answered < 5:  # a few answers: the workers have started, not only the socket
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                answered += 1
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server on port {port} does not answer /health")
        time.sleep(0.05)


@contextlib.contextmanager
def serving(url: str | None, workers: int, features: Features, folder: Path) -> Iterator[Server]:
    """The app on SQLite (url None) or PostgreSQL with `workers` processes."""
    with contextlib.ExitStack() as stack:
        if url is None or workers == 1 or features.workers:
            port = free_port()
            stack.enter_context(running(_command(port, folder, url, workers, features)))
            ports = [port]
            mode = "sqlite" if url is None else f"--workers {workers}"
        else:  # no --workers yet: N processes, round-robin in the load generator
            ports = [free_port() for _ in range(workers)]
            for index, port in enumerate(ports):
                stack.enter_context(running(_command(port, folder / f"p{index}", url, 1, features)))
            mode = f"{workers} processes, round-robin (no --workers)"
        time.sleep(0.5)
        for port in ports:
            _ready(port)
        if url is not None and workers > 1:
            time.sleep(2.0)  # the other workers finish their start (imports, pools)
        yield Server(ports, mode)


def _cluster() -> Any:
    from tests.postgres import PostgresCluster

    cluster = PostgresCluster.from_environment()
    cluster.start()
    return cluster


# -- a minimal keep-alive HTTP/1.1 client (as loadgen.py, with headers) ------------


class Connection:
    def __init__(
        self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.port, self.reader, self.writer = port, reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(port, reader, writer)

    async def request(
        self, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> tuple[int, Any]:
        payload = json.dumps(body).encode() if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length) if length else b""
        try:
            return status, json.loads(data) if data else {}
        except ValueError:
            return status, {}

    def close(self) -> None:
        self.writer.close()


def _address(number: int) -> str:
    """A made-up client address per participant (sent as X-Forwarded-For)."""
    return f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"


# -- 1. saturated clicks ------------------------------------------------------------


async def _clicker(
    port: int, number: int, deadline: float, result: LoadResult, room: tuple[str, str]
) -> None:
    prefix, key = room
    connection = await Connection.open(port)
    headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": _address(number)}
    try:
        _, visit = await connection.request("POST", f"{prefix}/visit", {}, headers)
        participant = visit.get("participant_id")
        while time.perf_counter() < deadline:
            body = {"status": random.choice(STATUSES), "participant_id": participant}  # noqa: S311
            started = time.perf_counter()
            try:
                status, answer = await connection.request(
                    "POST", f"{prefix}/users/status", body, headers
                )
            except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
                result.errors += 1
                return
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status != 200:
                result.errors += 1
            participant = answer.get("participant_id", participant)
    finally:
        connection.close()


async def _saturate(
    ports: list[int], clients: int, seconds: float, rooms: list[tuple[str, str]]
) -> LoadResult:
    result = LoadResult(clients, seconds)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _clicker(ports[n % len(ports)], n, deadline, result, rooms[n % len(rooms)])
            for n in range(clients)
        )
    )
    result.seconds = time.perf_counter() - started
    return result


def saturation(seconds: float = 8.0, repeats: int = 3) -> dict[str, Any]:
    """Throughput and p99 of `POST /users/status`: SQLite, then PostgreSQL with 1, 2, 4 workers.

    On PostgreSQL twice: every client in one room (the desktop app's case; one
    room's writes take its lock in turn), and the clients spread over
    `SPREAD_ROOMS` rooms (a team server's case), when the app has rooms.
    """
    features = Features.probe()
    cluster = _cluster()
    cases: list[tuple[str, int, int]] = [
        ("sqlite", 1, 1),
        *(("postgresql", n, 1) for n in WORKERS),
        *(("postgresql", n, SPREAD_ROOMS) for n in WORKERS),
    ]
    rounds: dict[str, list[dict[str, Any]]] = {}
    modes: dict[str, str] = {}
    try:
        for index in range(repeats):
            for engine, workers, room_count in cases:
                name = "sqlite" if engine == "sqlite" else f"pg_{workers}w"
                if room_count > 1:
                    name += f"_{room_count}rooms"
                url = cluster.migrated_database() if engine == "postgresql" else None
                try:
                    rooms = [("", ROOM_KEY)]
                    if url is not None and room_count > 1:
                        made = _make_rooms(url, room_count)
                        if made is None:
                            continue  # no rooms in the app under test yet
                        rooms = made
                    with (
                        tempfile.TemporaryDirectory() as folder,
                        serving(url, workers, features, Path(folder)) as server,
                    ):
                        result = asyncio.run(
                            _saturate(server.ports, SATURATION_CLIENTS, seconds, rooms)
                        )
                    modes[name] = server.mode
                finally:
                    if url is not None:
                        cluster.drop_database(url)
                summary = {**result.summary(), "statuses": result.statuses}
                rounds.setdefault(name, []).append(summary)
                print(f"  status saturation, round {index + 1}, {name}: {summary}", flush=True)
    finally:
        cluster.stop()
    figures: dict[str, Any] = {
        name: {
            key: median([float(r[key]) for r in results])
            for key in ("req_per_s", "p50_ms", "p99_ms", "errors", "requests")
        }
        | {"mode": modes[name]}
        for name, results in rounds.items()
    }
    figures["clients"] = SATURATION_CLIENTS
    figures["seconds"] = seconds
    figures["rounds"] = rounds
    return figures


# -- 2. the company, open loop --------------------------------------------------------


@dataclass
class Person:
    number: int
    room: str  # path prefix: "" for the room `default`, "/rooms/<slug>" otherwise
    headers: dict[str, str]
    participant: str | None = None
    meeting: int | None = None
    polls: int = 0


@dataclass
class OpenResult:
    offered: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    codes: dict[int, int] = field(default_factory=dict)
    late_ms: list[float] = field(default_factory=list)  # waiting for a free connection
    began: float = 0.0  # the first scheduled instant
    last_answer: float = 0.0  # when the last answer came: served = answers / (this - began)


def _make_rooms(url: str, count: int) -> list[tuple[str, str]] | None:
    """(path prefix, participant key) of `count` new rooms; None if the app has no rooms."""
    try:
        from mudameter_desktop import rooms_cli
    except ImportError:
        return None
    rooms = []
    for number in range(count):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = rooms_cli.main(
                ["add", f"Bench room {number}", "--database-url", url, "--json"],
                "MUDAMETER_DATABASE_URL",
            )
        if code != 0:
            return None
        room = json.loads(printed.getvalue())
        rooms.append((f"/rooms/{room['slug']}", str(room["participant_key"])))
    return rooms


async def _one(
    pool: asyncio.Queue[Connection], person: Person, due: float, result: OpenResult
) -> None:
    """A poll: alternately `POST /visit` and `GET /meetings/{id}` (the page's refresh)."""
    connection = await pool.get()
    result.late_ms.append(max(0.0, time.perf_counter() - due) * 1000)
    body: dict[str, Any] | None = None
    if person.polls % 2 == 1 and person.meeting is not None:
        method, path = "GET", f"{person.room}/meetings/{person.meeting}"
    else:
        method, path = "POST", f"{person.room}/visit"
        body = {"participant_id": person.participant} if person.participant else {}
    try:
        status, answer = await connection.request(method, path, body, person.headers)
    except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError, OSError):
        result.errors += 1
        connection.close()
        pool.put_nowait(await Connection.open(connection.port))
        return
    _record(result, due, status)
    if status == 200 and method == "POST":
        person.participant = answer.get("participant_id", person.participant)
        person.meeting = answer.get("meeting", {}).get("id", person.meeting)
    person.polls += 1
    pool.put_nowait(connection)


async def _click(
    pool: asyncio.Queue[Connection], person: Person, due: float, result: OpenResult
) -> None:
    connection = await pool.get()
    result.late_ms.append(max(0.0, time.perf_counter() - due) * 1000)
    body: dict[str, Any] = {"status": random.choice(STATUSES)}  # noqa: S311
    if person.participant:
        body["participant_id"] = person.participant
    try:
        status, answer = await connection.request(
            "POST", f"{person.room}/users/status", body, person.headers
        )
    except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError, OSError):
        result.errors += 1
        connection.close()
        pool.put_nowait(await Connection.open(connection.port))
        return
    _record(result, due, status)
    if status == 200:
        person.participant = answer.get("participant_id", person.participant)
        person.meeting = answer.get("meeting_id", person.meeting)
    pool.put_nowait(connection)


def _record(result: OpenResult, due: float, status: int) -> None:
    answered = time.perf_counter()
    result.latencies_ms.append((answered - due) * 1000)
    result.last_answer = max(result.last_answer, answered)
    result.codes[status] = result.codes.get(status, 0) + 1
    if status != 200:
        result.errors += 1


async def _company(ports: list[int], people: list[Person], seconds: float) -> OpenResult:
    pools: list[asyncio.Queue[Connection]] = []
    for port in ports:
        pool: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(CONNECTIONS):
            pool.put_nowait(await Connection.open(port))
        pools.append(pool)
    # Warm-up, not measured: everyone visits once (participants and meetings exist).
    warm = OpenResult()
    for start in range(0, len(people), 256):
        batch = people[start : start + 256]
        await asyncio.gather(
            *(_one(pools[p.number % len(pools)], p, time.perf_counter(), warm) for p in batch)
        )
    rng = random.Random(930)  # noqa: S311 - the schedule, not a secret
    began = time.perf_counter() + 0.5
    schedule: list[tuple[float, str, Person]] = []
    for person in people:
        for every, kind in ((CLICK_EVERY, "click"), (POLL_EVERY, "poll")):
            at = rng.uniform(0, every)
            while at < seconds:
                schedule.append((began + at, kind, person))
                at += every
    schedule.sort(key=lambda item: item[0])
    result = OpenResult(offered=len(schedule), began=began)
    tasks = []
    for due, kind, person in schedule:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pool = pools[person.number % len(pools)]
        work = _click if kind == "click" else _one
        tasks.append(asyncio.create_task(work(pool, person, due, result)))
    await asyncio.gather(*tasks)
    for pool in pools:
        while not pool.empty():
            pool.get_nowait().close()
    return result


def company(
    seconds: float = 30.0, workers: tuple[int, ...] = (1, 2, 4), rooms_count: int = ROOMS
) -> dict[str, Any]:
    """The open-loop company scenario on PostgreSQL with each worker count."""
    features = Features.probe()
    cluster = _cluster()
    figures: dict[str, Any] = {"seconds": seconds}
    try:
        for count in workers:
            url = cluster.migrated_database()
            try:
                rooms = _make_rooms(url, rooms_count)
                people = []
                for number in range(rooms_count * PEOPLE_PER_ROOM):
                    prefix, key = rooms[number // PEOPLE_PER_ROOM] if rooms else ("", ROOM_KEY)
                    headers = {
                        "Authorization": f"Bearer {key}",
                        "X-Forwarded-For": _address(number),
                    }
                    people.append(Person(number, prefix, headers))
                with (
                    tempfile.TemporaryDirectory() as folder,
                    serving(url, count, features, Path(folder)) as server,
                ):
                    result = asyncio.run(_company(server.ports, people, seconds))
            finally:
                cluster.drop_database(url)
            done = len(result.latencies_ms)
            ordered = sorted(result.latencies_ms) or [float("nan")]
            summary = {
                "mode": server.mode,
                "rooms": f"{rooms_count} rooms" if rooms else "room default only (no `rooms` yet)",
                "people": len(people),
                "offered_req_per_s": round(result.offered / seconds, 1),
                "served_req_per_s": round(
                    done / max(seconds, result.last_answer - result.began), 1
                ),
                "errors": result.errors,
                "codes": result.codes,
                "p50_ms": round(median(ordered), 2),
                "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
                "late_p99_ms": round(
                    sorted(result.late_ms)[int(0.99 * (len(result.late_ms) - 1))], 2
                )
                if result.late_ms
                else 0.0,
            }
            figures[f"pg_{count}w"] = summary
            print(f"  company, {count} workers: {summary}", flush=True)
    finally:
        cluster.stop()
    return figures


def measure(quick: bool = False) -> dict[str, Any]:
    return {
        "saturation": saturation(seconds=4 if quick else 8, repeats=1 if quick else 3),
        "company": company(seconds=10 if quick else 30),
    }


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["smoke"]:  # a few seconds of each: does it run at all
        print(json.dumps(saturation(seconds=2, repeats=1), indent=2, default=str))
        print(json.dumps(company(seconds=4, workers=(2,), rooms_count=10), indent=2, default=str))
    else:
        print(json.dumps(measure("--quick" in sys.argv), indent=2, default=str))
