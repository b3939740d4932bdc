"""API fixtures: the app under Litestar's test client, as a loopback or a LAN client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from litestar.testing import TestClient

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.app import create_app
from mudameter_desktop.api.gate import ASGIApp, Receive, Scope, Send
from mudameter_desktop.api.limits import RateLimiter
from mudameter_desktop.api.server import ServerThread
from mudameter_desktop.hosts import is_loopback_address
from mudameter_desktop.services.meter import MeterService
from tests.conftest import FakeClock

ROOM_KEY = "room-key-for-tests"
LAN_ADDRESS = "192.168.1.77"

ClientFactory = Callable[..., TestClient[ASGIApp]]


class ManualTime:
    """A monotonic clock for the rate limiter that the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def as_client(app: ASGIApp, address: str) -> ASGIApp:
    """The app as seen from `address`: the test client's scope names another peer.

    Lifespan events are answered here, as uvicorn runs the app with lifespan
    off: several clients of one app never start or stop it twice.
    """

    async def from_address(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app({**scope, "client": (address, 50123)}, receive, send)

    return from_address


@pytest.fixture
def access() -> RoomAccess:
    return RoomAccess(ROOM_KEY)


@pytest.fixture
def limiter_time() -> ManualTime:
    return ManualTime()


@pytest.fixture
def app(service: MeterService, access: RoomAccess, limiter_time: ManualTime) -> ASGIApp:
    return create_app(service, access, RateLimiter(clock=limiter_time))


@pytest.fixture
def client_from(app: ASGIApp) -> Iterator[ClientFactory]:
    """Clients from any address; the Host header is the server's address for that peer."""
    clients: list[TestClient[ASGIApp]] = []

    def make(address: str = "127.0.0.1", host: str | None = None) -> TestClient[ASGIApp]:
        loopback = is_loopback_address(address)
        server = host or ("127.0.0.1:8765" if loopback else "192.168.1.10:8765")
        client = TestClient(as_client(app, address), base_url=f"http://{server}")
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def local(client_from: ClientFactory) -> TestClient[ASGIApp]:
    """A client on this machine (no room key needed)."""
    return client_from("127.0.0.1")


@pytest.fixture
def lan(client_from: ClientFactory) -> TestClient[ASGIApp]:
    """A client on another machine of the LAN, with no key yet."""
    return client_from(LAN_ADDRESS)


@pytest.fixture
def meeting_clock(clock: FakeClock) -> FakeClock:
    """A quarter past the start of the 11:00 Berlin meeting (10:00 UTC): it has samples."""
    clock.advance(minutes=25)
    return clock


@pytest.fixture
def server(
    service: MeterService, access: RoomAccess, meeting_clock: FakeClock
) -> Iterator[ServerThread]:
    """The app on a real socket (a free port on 127.0.0.1), stopped after the test."""
    running = ServerThread(service, access, "127.0.0.1", 0)
    running.start()
    yield running
    running.stop()
