"""The server thread over real sockets on 127.0.0.1: start, stop, ports, rebind."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from mudameter_desktop.api import server as server_module
from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.server import ServerStartError, ServerThread
from mudameter_desktop.hosts import ALL_INTERFACES
from mudameter_desktop.services.meter import MeterService

ServerFactory = Callable[..., ServerThread]


@pytest.fixture
def make_server(service: MeterService, access: RoomAccess) -> Iterator[ServerFactory]:
    servers: list[ServerThread] = []

    def make(host: str = "127.0.0.1", port: int = 0) -> ServerThread:
        server = ServerThread(service, access, host, port)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        yield blocker.getsockname()[1]


def refuses_connections(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_start_serves_and_stop_is_quick(make_server: ServerFactory) -> None:
    server = make_server()
    server.start()
    assert server.running
    assert server.port != 0
    assert server.local_url == f"http://127.0.0.1:{server.port}/"
    with httpx.Client(base_url=server.local_url) as client:  # a kept-alive connection
        assert client.get("/health").json()["status"] == "ok"
        assert client.post("/users/status", json={"status": "engaged"}).status_code == 200
        started = time.perf_counter()
        server.stop()
        elapsed = time.perf_counter() - started
    assert elapsed < 0.5
    assert not server.running
    assert refuses_connections(server.port)
    server.stop()  # stopping twice is harmless


def test_a_taken_port_moves_to_the_next_free_one(
    make_server: ServerFactory, taken_port: int
) -> None:
    server = make_server(port=taken_port)
    server.start()
    assert taken_port < server.port < taken_port + server_module.PORT_ATTEMPTS
    assert httpx.get(f"{server.local_url}health").status_code == 200


def test_no_free_port_is_a_start_error(
    make_server: ServerFactory, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "PORT_ATTEMPTS", 1)
    server = make_server(port=taken_port)
    with pytest.raises(ServerStartError, match=str(taken_port)):
        server.start()
    assert not server.running


def test_an_address_of_another_machine_is_a_start_error(make_server: ServerFactory) -> None:
    with pytest.raises(ServerStartError):
        make_server(host="192.0.2.55", port=40000).start()  # TEST-NET: never ours


def test_a_server_that_dies_while_starting_is_reported(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    async def failing_startup(*_args: object, **_kwargs: object) -> None:
        sys.exit(3)  # what uvicorn does when it cannot start

    monkeypatch.setattr(uvicorn.Server, "startup", failing_startup)
    server = make_server()
    started = time.perf_counter()
    with pytest.raises(ServerStartError):
        server.start(timeout=5)
    assert time.perf_counter() - started < 2  # reported at once, not after the timeout
    assert not server.running


def test_rebind_keeps_the_port_and_the_room(
    make_server: ServerFactory, taken_port: int, access: RoomAccess
) -> None:
    server = make_server(port=taken_port)
    server.start()
    port = server.port
    server.rebind(ALL_INTERFACES)
    assert (server.host, server.port) == (ALL_INTERFACES, port)
    assert httpx.get(f"{server.local_url}health").status_code == 200
    server.rebind("127.0.0.1")
    assert (server.host, server.port) == ("127.0.0.1", port)
    assert httpx.get(f"{server.local_url}meetings").status_code == 200


def test_join_url(make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "lan_address", lambda: "192.168.5.6")
    server = make_server(host=ALL_INTERFACES)
    server.start()
    assert server.join_url() == f"http://192.168.5.6:{server.port}/#key=room-key-for-tests"


def test_join_url_quotes_the_key(service: MeterService) -> None:
    server = ServerThread(service, RoomAccess("a b&c/d"), "10.1.2.3", 9000)
    assert server.join_url() == "http://10.1.2.3:9000/#key=a%20b%26c%2Fd"
    assert server.local_url == "http://10.1.2.3:9000/"


def test_lan_address_is_an_ipv4_address() -> None:
    import ipaddress

    assert ipaddress.ip_address(server_module.lan_address()).version == 4


def test_the_server_stack_is_imported_lazily() -> None:
    code = (
        "import sys, mudameter_desktop.api, mudameter_desktop.api.server, "
        "mudameter_desktop.api.access, mudameter_desktop.app\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in {'litestar', 'uvicorn'}]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_failed_rebind_goes_back_to_the_previous_host(make_server: ServerFactory) -> None:
    server = make_server()
    server.start()
    port = server.port
    with pytest.raises(ServerStartError):
        server.rebind("192.0.2.55")  # TEST-NET: never an address of this machine
    assert (server.host, server.port) == ("127.0.0.1", port)
    assert server.running
    assert httpx.get(f"{server.local_url}health").status_code == 200
