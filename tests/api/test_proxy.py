"""Behind a reverse proxy: `--trusted-proxy` and `--rate-limit`.

X-Forwarded-For names the client only when the peer is a trusted proxy; the
client is then the right-most address in it that is not a trusted proxy, and
the rate limit, the per-address participant cap and the key budget count that
address. A request through a proxy is never this machine's own user.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from litestar.testing import TestClient

from mudameter_desktop.__main__ import build_parser
from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.app import create_app
from mudameter_desktop.api.gate import ASGIApp
from mudameter_desktop.api.limits import (
    ConnectionLimits,
    ForwardedClients,
    RateLimiter,
    TrustedProxies,
)
from mudameter_desktop.api.runner import ConnectionTally
from mudameter_desktop.api.server import ServerThread
from mudameter_desktop.services.meter import MeterService
from tests.api.conftest import LAN_ADDRESS, ROOM_KEY, ManualTime, as_client

BEARER = {"Authorization": f"Bearer {ROOM_KEY}"}
PROXY = "127.0.0.1"  # nginx on the same machine, the usual set-up
PROXY_HOST = "127.0.0.1:8765"  # what nginx sends as Host by default
OTHER_PROXY = "10.0.0.2"

Make = Callable[..., TestClient[ASGIApp]]


def forwarded(client: str) -> dict[str, str]:
    return {"X-Forwarded-For": client, **BEARER}


@pytest.fixture
def make_client(
    service: MeterService, access: RoomAccess, limiter_time: ManualTime
) -> Iterator[Callable[..., TestClient[ASGIApp]]]:
    """`make(peer, trusted=(...), rate_limit=N)`: a client from `peer` to an app that trusts
    those proxies (what `--trusted-proxy` and `--rate-limit` build in the server)."""
    clients: list[TestClient[ASGIApp]] = []
    apps: dict[tuple[tuple[str, ...], int], ASGIApp] = {}

    def make(
        peer: str, trusted: tuple[str, ...] = (PROXY,), rate_limit: int = 600
    ) -> TestClient[ASGIApp]:
        app = apps.get((trusted, rate_limit))
        if app is None:
            gate = create_app(service, access, RateLimiter(limit=rate_limit, clock=limiter_time))
            proxies = TrustedProxies.parse(trusted)
            app = apps[trusted, rate_limit] = ForwardedClients(gate, proxies) if proxies else gate
        client = TestClient(as_client(app, peer), base_url=f"http://{PROXY_HOST}")
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


# Which address is the client.


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("192.168.1.77", "203.0.113.9", "192.168.1.77"),  # not a proxy of ours: ignored
        (PROXY, "203.0.113.9", "203.0.113.9"),
        (PROXY, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the left part is the client's claim
        (PROXY, f"6.6.6.6, 203.0.113.9, {OTHER_PROXY}", "203.0.113.9"),  # two proxies
        (PROXY, "203.0.113.9:5123", "203.0.113.9"),
        (PROXY, "[2001:db8::7]:443", "2001:db8::7"),
        (PROXY, "2001:db8::7", "2001:db8::7"),
        (PROXY, "", PROXY),  # no client named: the proxy itself
        (PROXY, "203.0.113.9, not-an-address", PROXY),  # a hop the proxy did not write
        (PROXY, OTHER_PROXY, OTHER_PROXY),  # only proxies: the first one
        ("::ffff:127.0.0.1", "203.0.113.9", "203.0.113.9"),  # IPv4-mapped peer
        ("10.0.0.99", "203.0.113.9", "203.0.113.9"),  # inside a trusted network
    ],
)
def test_the_client_is_the_right_most_untrusted_forwarded_address(
    peer: str, header: str, client: str
) -> None:
    proxies = TrustedProxies.parse([PROXY, "10.0.0.0/24"])
    assert proxies.client_of(peer, [header] if header else []) == client


def test_several_forwarded_for_headers_read_as_one_list() -> None:
    proxies = TrustedProxies.parse([PROXY])
    assert proxies.client_of(PROXY, ["6.6.6.6", "203.0.113.9"]) == "203.0.113.9"


def test_no_trusted_proxy_believes_nobody() -> None:
    assert not TrustedProxies()
    assert TrustedProxies().client_of(PROXY, ["203.0.113.9"]) == PROXY


def test_the_command_line_takes_addresses_and_networks_and_refuses_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        ["--trusted-proxy", "127.0.0.1", "--trusted-proxy", "10.0.0.0/8", "--rate-limit", "0"]
    )
    assert (args.trusted_proxy, args.rate_limit) == (["127.0.0.1", "10.0.0.0/8"], 0)
    assert build_parser().parse_args([]).trusted_proxy == []
    for bad in (["--trusted-proxy", "proxy.example"], ["--rate-limit", "-1"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)
    error = capsys.readouterr().err
    assert "not an IP address or network" in error
    assert "rate limit must be 0 (off) or more" in error


# X-Forwarded-For and the rate limit.


def test_forwarded_for_is_ignored_from_an_untrusted_peer(make_client: Make) -> None:
    lan = make_client(LAN_ADDRESS, rate_limit=3)
    for number in range(3):
        assert lan.get("/health", headers={"X-Forwarded-For": f"203.0.113.{number}"}).is_success
    # Each request named another client; all of them were the LAN address's.
    limited = lan.get("/health", headers={"X-Forwarded-For": "203.0.113.200"})
    assert limited.status_code == 429


def test_forwarded_for_is_ignored_without_a_trusted_proxy(make_client: Make) -> None:
    """The desktop's default: a loopback client naming another is still this machine's user."""
    local = make_client(PROXY, trusted=())
    assert local.get("/meetings", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200


def test_forwarded_for_is_honoured_from_a_trusted_proxy(
    make_client: Make, limiter_time: ManualTime
) -> None:
    proxy = make_client(PROXY, rate_limit=3)
    for _ in range(3):
        assert proxy.get("/meetings", headers=forwarded("6.6.6.6, 203.0.113.9")).status_code == 200
    limited = proxy.get("/meetings", headers=forwarded("7.7.7.7, 203.0.113.9"))
    assert limited.status_code == 429  # the spoofed left part does not change who it is
    assert limited.headers["retry-after"] == "60"
    assert proxy.get("/meetings", headers=forwarded("203.0.113.10")).status_code == 200
    limiter_time.now += 60
    assert proxy.get("/meetings", headers=forwarded("203.0.113.9")).status_code == 200


def test_a_request_through_a_proxy_is_never_this_machines_user(make_client: Make) -> None:
    """nginx on this machine connects from 127.0.0.1 with a loopback Host: without the
    proxy rule every client would be the host, key-free."""
    proxy = make_client(PROXY)
    assert proxy.get("/meetings", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 401
    assert proxy.get("/meetings").status_code == 401  # no header at all: still not the host
    assert proxy.get("/meetings", headers=forwarded("203.0.113.9")).status_code == 200
    start = {"starts_at": "2026-11-27T10:00:00Z", "title": "Planning"}
    answer = proxy.post("/meetings", json=start, headers=forwarded("127.0.0.1"))
    assert answer.status_code == 403  # a host-only action
    assert make_client("127.0.0.1", trusted=()).post("/meetings", json=start).status_code == 201


def test_the_participant_cap_counts_the_forwarded_address(make_client: Make) -> None:
    proxy = make_client(PROXY)
    for _ in range(5):
        assert proxy.post("/visit", headers=forwarded("203.0.113.9")).status_code == 200
    assert proxy.post("/visit", headers=forwarded("203.0.113.9")).status_code == 429
    assert proxy.post("/visit", headers=forwarded("203.0.113.10")).status_code == 200


def test_rate_limit_zero_never_answers_429(make_client: Make) -> None:
    lan = make_client(LAN_ADDRESS, rate_limit=0)
    codes = {lan.get("/health").status_code for _ in range(650)}
    assert codes == {200}
    proxy = make_client(PROXY, rate_limit=0)
    assert {
        proxy.get("/health", headers=forwarded("203.0.113.9")).status_code for _ in range(650)
    } == {200}


def test_rate_limit_n_answers_429_after_n_in_a_minute(
    make_client: Make, limiter_time: ManualTime
) -> None:
    lan = make_client(LAN_ADDRESS, rate_limit=5)
    for _ in range(5):
        assert lan.get("/health").status_code == 200
    limiter_time.now += 30
    limited = lan.get("/health")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "30"
    assert make_client("192.168.1.78", rate_limit=5).get("/health").status_code == 200
    limiter_time.now += 30
    assert lan.get("/health").status_code == 200  # a minute after the first


def test_the_limiter_with_limit_zero_counts_nothing() -> None:
    limiter = RateLimiter(limit=0)
    assert all(limiter.retry_after("a") is None for _ in range(1000))


# Connections: a proxy carries everyone's.


def test_a_trusted_proxys_connections_share_their_own_budget() -> None:
    limits = ConnectionLimits(per_address=2, from_lan=3, from_loopback=2, from_proxies=5)
    proxies = TrustedProxies.parse([PROXY, OTHER_PROXY])
    tally = ConnectionTally(dataclasses.replace(limits, proxies=proxies))

    def guard() -> Any:
        return SimpleNamespace(counted_as=None, owed_since=None, drop=lambda: None)

    admitted = [tally.admit(guard(), address) for address in [PROXY, OTHER_PROXY] * 3]
    assert admitted == [True] * 5 + [False]  # more than per_address or loopback's 2
    assert tally.admit(guard(), "::1")  # this machine's other clients keep their budget
    untrusted = ConnectionTally(limits)
    assert [untrusted.admit(guard(), PROXY) for _ in range(3)] == [True, True, False]


def test_the_server_thread_applies_both_options(service: MeterService, access: RoomAccess) -> None:
    """On a real socket: `--trusted-proxy 127.0.0.1 --rate-limit 2` as the app passes them."""
    server = ServerThread(
        service, access, "127.0.0.1", 0, proxies=TrustedProxies.parse([PROXY]), rate_limit=2
    )
    server.start()
    try:

        def status(client: str) -> int:
            request = urllib.request.Request(  # noqa: S310 - a local test server
                f"{server.local_url}health", headers={"X-Forwarded-For": client}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
                    json.loads(answer.read())
                    return int(answer.status)
            except urllib.error.HTTPError as error:
                return error.code

        assert [status("203.0.113.9") for _ in range(3)] == [200, 200, 429]
        assert status("203.0.113.10") == 200
    finally:
        server.stop()
