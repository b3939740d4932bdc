"""A stranger without the key cannot exhaust the server (issue 11, finding 1).

Bounded loops on loopback, and from a network namespace of our own (its
addresses and the host side of its veth pair only) where many source
addresses are needed.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tzlocal

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.limits import ConnectionLimits
from mudameter_desktop.api.runner import HttpParser
from mudameter_desktop.api.server import ServerThread
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore
from tests.reliability.conftest import (
    HERE,
    PYTHON,
    answers_health,
    free_port,
    headless_args,
    wait_for,
)

KEY = "exhaustion-test-key-0123456789"
PARSERS: list[HttpParser] = ["httptools", "h11"]
HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
ServerFactory = Callable[..., ServerThread]
# Transport limits, in front of any database: run once, on SQLite.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def make_server(store: OpenedStore) -> Iterator[ServerFactory]:
    started: list[ServerThread] = []

    def make(parser: HttpParser = "auto", host: str = "127.0.0.1", **limits: float) -> ServerThread:
        service = MeterService(store.engine, tzlocal.get_localzone())
        server = ServerThread(
            service,
            RoomAccess(KEY),
            host,
            0,
            limits=ConnectionLimits(**limits),  # type: ignore[arg-type]
            http_parser=parser,
        )
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def send_big_head(port: int, header_bytes: int) -> tuple[bytes, float]:
    """Send a head with one header of `header_bytes`; the answer's first bytes and the time."""
    began = time.monotonic()
    chunk = b"a" * 65_536
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(HEAD + b"X-Big: ")
        sent = 0
        try:
            while sent < header_bytes:  # bounded: stops at the size or when the server closes
                connection.sendall(chunk)
                sent += len(chunk)
            connection.sendall(b"\r\n\r\n")
        except OSError:
            pass  # the server stopped reading: what it answered is what counts
        try:
            answer = connection.recv(4096)
        except OSError:
            answer = b""
    return answer, time.monotonic() - began


@pytest.mark.parametrize("parser", PARSERS)
def test_a_megabyte_of_header_is_431_at_once(
    make_server: ServerFactory, parser: HttpParser
) -> None:
    server = make_server(parser)
    answer, seconds = send_big_head(server.port, 1_000_000)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    assert b"connection: close" in answer.lower()
    assert seconds < 2.0
    # A head just under the limit is fine, and the server still answers everyone.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        filler = b"X-Fill: " + b"b" * (16_384 - len(HEAD) - 200) + b"\r\n"
        connection.sendall(HEAD + filler + b"\r\n")
        assert connection.recv(4096).startswith(b"HTTP/1.1 200 ")
    assert answers_health(server.local_url.rstrip("/"))


def _peak_memory_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1])


def test_a_huge_head_leaves_memory_and_the_loop_alone(tmp_path: Path) -> None:
    """Found: a 256 MB header took the server from 75 MB to 583 MB and stalled loopback."""
    port = free_port()
    server = subprocess.Popen(
        headless_args(tmp_path, port, "--room-key", KEY),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: answers_health(f"http://127.0.0.1:{port}"), what="the server")
        before = _peak_memory_kib(server.pid)
        for _ in range(4):
            answer, _seconds = send_big_head(port, 32_000_000)
            assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
        began = time.monotonic()
        assert answers_health(f"http://127.0.0.1:{port}")
        assert time.monotonic() - began < 1.0
        grown_mib = (_peak_memory_kib(server.pid) - before) / 1024
        print(f"\npeak memory grew by {grown_mib:.1f} MiB under 4 x 32 MB heads")
        assert grown_mib < 16
    finally:
        server.terminate()
        server.wait(10)


def drip(port: int, request: bytes, every: float, limit: float) -> tuple[bytes, float]:
    """Send `request` a byte every `every` seconds; what came back and when (or `limit`)."""
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as connection:
        connection.settimeout(every)
        for byte in request:
            if time.monotonic() - began > limit:
                break
            try:
                connection.sendall(bytes([byte]))
                answer = connection.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                answer = b""
            return answer, time.monotonic() - began
    return b"(still open)", time.monotonic() - began


@pytest.mark.parametrize("parser", PARSERS)
def test_a_dripping_head_is_cut_at_its_deadline(
    make_server: ServerFactory, parser: HttpParser
) -> None:
    """Found: the 10 s guard restarted on every byte; one byte every 8 s got a 200 after 32 s."""
    server = make_server(parser, deadline_s=3.0)
    answer, seconds = drip(server.port, HEAD + b"\r\n", every=2.0, limit=12.0)
    assert answer.startswith(b"HTTP/1.1 408 ") or answer == b"", answer[:80]
    assert 2.5 < seconds < 5.0


@pytest.mark.parametrize("parser", PARSERS)
def test_a_dripping_body_is_cut_at_its_deadline(
    make_server: ServerFactory, parser: HttpParser
) -> None:
    server = make_server(parser, deadline_s=3.0)
    body = b'{"status": "engaged", "participant_id": null}'
    head = (
        b"POST /users/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(head)
        connection.settimeout(2.0)  # one byte every 2 s
        answer = b"(still open)"
        for byte in body:  # bounded: one pass over a short body
            try:
                connection.sendall(bytes([byte]))
                answer = connection.recv(4096)
                break
            except TimeoutError:
                continue
            except OSError:
                answer = b""
                break
    seconds = time.monotonic() - began
    assert not answer.startswith(b"HTTP/1.1 200"), answer[:80]
    assert 2.5 < seconds < 5.0


def test_slow_but_whole_requests_and_keep_alive_still_work(make_server: ServerFactory) -> None:
    server = make_server(deadline_s=3.0)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        for _ in range(3):  # each request gets its own deadline on a kept-alive connection
            for part in (HEAD[:10], HEAD[10:], b"\r\n"):
                connection.sendall(part)
                time.sleep(0.6)
            assert connection.recv(4096).startswith(b"HTTP/1.1 200 ")


def test_the_soft_open_file_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096))

    port = free_port()
    server = subprocess.Popen(
        headless_args(tmp_path, port, "--room-key", KEY),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=low_soft_limit,  # noqa: PLW1509 - no threads in the test's child yet
    )
    try:
        wait_for(lambda: answers_health(f"http://127.0.0.1:{port}"), what="the server")
        limits = Path(f"/proc/{server.pid}/limits").read_text(encoding="ascii")
        line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
        assert line.split()[3:5] == ["4096", "4096"], line
    finally:
        server.terminate()
        server.wait(10)


# -- many LAN machines -------------------------------------------------------


class Subnet:
    """A namespace on a private /24: the host side is .1, the "machines" .2 to .40."""

    def __init__(self) -> None:
        tag = os.getpid() % 100_000
        self.name = f"mmx-{tag}"
        self.prefix = f"10.232.{os.getpid() % 250}"
        self.host_address = f"{self.prefix}.1"
        self.host_side, self.ns_side = f"mxh{tag}", f"mxn{tag}"

    def address(self, index: int) -> str:
        return f"{self.prefix}.{index + 2}"

    def exec(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def subnet() -> Iterator[Subnet]:
    net = Subnet()
    ip("netns", "add", net.name)
    try:
        ip("link", "add", net.host_side, "type", "veth", "peer", "name", net.ns_side)
        ip("link", "set", net.ns_side, "netns", net.name)
        ip("addr", "add", f"{net.host_address}/24", "dev", net.host_side)
        ip("link", "set", net.host_side, "up")
        for index in range(39):
            ip("-n", net.name, "addr", "add", f"{net.address(index)}/24", "dev", net.ns_side)
        ip("-n", net.name, "link", "set", net.ns_side, "up")
        ip("-n", net.name, "link", "set", "lo", "up")
        yield net
    finally:
        subprocess.run(["ip", "link", "del", net.host_side], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", net.name], check=False, capture_output=True)


def lan_health(net: Subnet, source: str, url: str) -> int:
    """GET /health from `source` in the namespace; the status, or 0 when it failed."""
    script = (
        "import sys, httpx\n"
        "transport = httpx.HTTPTransport(local_address=sys.argv[1])\n"
        "try:\n"
        "    with httpx.Client(transport=transport, timeout=3.0) as client:\n"
        "        print(client.get(sys.argv[2] + '/health').status_code)\n"
        "except httpx.HTTPError:\n"
        "    print(0)\n"
    )
    done = subprocess.run(
        net.exec(PYTHON, "-c", script, source, url),
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return int(done.stdout.strip() or 0)


def test_connections_from_many_machines_starve_neither_loopback_nor_the_lan(
    subnet: Subnet, tmp_path: Path
) -> None:
    """Found: 64 dripping connections from each of 17 addresses used up the open files:
    loopback and a keyed LAN client got connection resets.

    The server runs with at most 400 open files; 15 machines try 32 each (480).
    """

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (400, 400))

    port = free_port()
    server = subprocess.Popen(
        # Shared as "Share on LAN" does, so loopback reaches it too; only loopback
        # and the namespace ever connect.
        headless_args(tmp_path, port, "--host", "0.0.0.0", "--room-key", KEY),  # noqa: S104
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=few_files,  # noqa: PLW1509 - no threads in the test's child yet
    )
    url = f"http://{subnet.host_address}:{port}"
    hoarder = None
    try:
        wait_for(lambda: answers_health(url), what="the server")
        sources = ",".join(subnet.address(index) for index in range(15))
        hoarder = subprocess.Popen(
            subnet.exec(
                PYTHON, str(HERE / "hoarder.py"), subnet.host_address, str(port), sources, "32", "8"
            ),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert hoarder.stdout is not None
        opened = hoarder.stdout.readline()
        assert opened.startswith("open "), opened
        began = time.monotonic()
        assert answers_health(url.replace(subnet.host_address, "127.0.0.1", 1))
        assert lan_health(subnet, subnet.address(30), url) == 200
        print(
            f"\n{opened.strip()}; loopback and a fresh LAN machine answered in "
            f"{time.monotonic() - began:.2f} s"
        )
    finally:
        if hoarder is not None:
            hoarder.kill()
            hoarder.wait(10)
        server.terminate()
        server.wait(10)


def test_a_client_that_stops_reading_is_cut(make_server: ServerFactory) -> None:
    """Pipelined requests whose answers are never read must not hold the connection
    (and the answers' memory) for ever."""
    server = make_server(deadline_s=3.0)
    request = b"GET /schema/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    count = 300  # about 9 MB of answers: more than the socket buffers hold
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.connect(("127.0.0.1", server.port))
        connection.sendall(request * count)
        time.sleep(6.0)  # read nothing: past the deadline
        connection.settimeout(5.0)
        received = 0
        try:
            while chunk := connection.recv(1 << 20):  # bounded: ends at EOF, reset or timeout
                received += len(chunk)
        except OSError:
            pass
    assert received < count * 29_000 // 2, received
    assert answers_health(server.local_url.rstrip("/"))
