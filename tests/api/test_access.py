"""The LAN rules: loopback free, room key for the rest, rate limit, key never logged."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from mudameter_desktop.api.access import RoomAccess, is_loopback_host_header
from mudameter_desktop.api.gate import (
    DEVICE_COOKIE,
    WRONG_KEY_BUDGET,
    ASGIApp,
    GuessBudget,
    RefusalLog,
)
from mudameter_desktop.api.limits import RateLimiter, json_too_deep
from mudameter_desktop.hosts import is_loopback_address
from tests.api.conftest import LAN_ADDRESS, ROOM_KEY, ClientFactory, ManualTime

Client = TestClient[ASGIApp]
BEARER = {"Authorization": f"Bearer {ROOM_KEY}"}


def assert_json_error(
    client: Client, method: str, path: str, status: int, **kwargs: object
) -> None:
    answer = client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == status, (path, answer.text)
    assert answer.json() == {"status_code": status, "detail": answer.json()["detail"]}


API_CALLS: list[tuple[str, str, dict[str, object]]] = [
    ("GET", "/meetings", {}),
    ("GET", "/meetings/1", {}),
    ("POST", "/meetings", {"json": {}}),
    ("POST", "/users/status", {"json": {"status": "engaged"}}),
    ("POST", "/visit", {}),
    ("GET", "/schema/openapi.json", {}),
    ("GET", "/static/app.js", {}),
    ("GET", "/nothing-here", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), API_CALLS)
def test_lan_without_key_is_401_json(
    lan: Client, method: str, path: str, kwargs: dict[str, object]
) -> None:
    assert_json_error(lan, method, path, 401, **kwargs)


@pytest.mark.parametrize(("method", "path", "kwargs"), API_CALLS)
def test_lan_with_wrong_key_is_403(
    lan: Client, method: str, path: str, kwargs: dict[str, object]
) -> None:
    headers = {"Authorization": "Bearer not-the-key"}
    assert_json_error(lan, method, path, 403, headers=headers, **kwargs)


def test_lan_with_bearer_key(lan: Client) -> None:
    answer = lan.post("/users/status", json={"status": "engaged"}, headers=BEARER)
    assert answer.status_code == 200
    assert lan.get("/meetings", headers={"authorization": f"bearer {ROOM_KEY}"}).status_code == 200


def test_lan_page_without_key_explains_how_to_join(lan: Client) -> None:
    answer = lan.get("/")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("text/html")
    assert "join link" in answer.text
    assert "QR code" in answer.text
    assert '<script src="/static/join.js"' in answer.text
    script = lan.get("/static/join.js")  # public: it holds no data
    assert script.status_code == 200
    assert "location.replace" in script.text


def test_old_join_link_serves_the_page_with_a_device_cookie(lan: Client) -> None:
    answer = lan.get("/", params={"key": ROOM_KEY}, follow_redirects=False)
    assert answer.status_code == 200  # the page drops the key with history.replaceState
    assert 'data-status="engaged"' in answer.text
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{DEVICE_COOKIE}=")
    assert ROOM_KEY not in cookie  # a device token, never the key
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=2592000"):
        assert attribute in cookie
    page = lan.get("/")  # the client keeps the cookie, as a browser does
    assert page.status_code == 200
    assert "set-cookie" not in page.headers  # a fresh token is not renewed
    assert lan.post("/visit").status_code == 200


def test_join_link_with_a_wrong_key(lan: Client) -> None:
    answer = lan.get("/", params={"key": "guess"}, follow_redirects=False)
    assert answer.status_code == 403
    assert "no longer valid" in answer.text
    assert "set-cookie" not in answer.headers


def test_key_in_the_query_only_joins_on_the_page(lan: Client) -> None:
    assert_json_error(lan, "GET", "/meetings", 401, params={"key": ROOM_KEY})


def test_join_trades_the_key_for_a_device_cookie(lan: Client) -> None:
    """The `/#key=` link: the page posts the fragment's key to /join."""
    assert_json_error(lan, "POST", "/join", 401, json={})
    assert_json_error(lan, "POST", "/join", 401, json={"key": 5})
    assert_json_error(lan, "POST", "/join", 403, json={"key": "guess"})
    assert_json_error(
        lan, "POST", "/join", 415, content=ROOM_KEY, headers={"content-type": "text/plain"}
    )
    cross_site = {"Origin": "http://evil.example"}
    assert_json_error(lan, "POST", "/join", 403, json={"key": ROOM_KEY}, headers=cross_site)
    assert "set-cookie" not in lan.post("/join", json={"key": "guess"}).headers
    assert lan.get("/meetings").status_code == 401
    joined = lan.post("/join", json={"key": ROOM_KEY})
    assert joined.status_code == 200
    cookie = joined.headers["set-cookie"]
    assert cookie.startswith(f"{DEVICE_COOKIE}=")
    assert ROOM_KEY not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert lan.get("/meetings").status_code == 200
    assert lan.get("/").status_code == 200


def test_join_with_a_bearer_key(client_from: ClientFactory) -> None:
    phone = client_from(LAN_ADDRESS)
    assert phone.post("/join", headers=BEARER).status_code == 200
    assert phone.get("/meetings").status_code == 200


def test_each_device_gets_its_own_token(client_from: ClientFactory) -> None:
    tokens = {
        client_from(LAN_ADDRESS).post("/join", json={"key": ROOM_KEY}).cookies[DEVICE_COOKIE]
        for _ in range(3)
    }
    assert len(tokens) == 3


def test_a_forged_or_expired_token_is_refused(
    client_from: ClientFactory, access: RoomAccess
) -> None:
    phone = client_from(LAN_ADDRESS)
    token = phone.post("/join", json={"key": ROOM_KEY}).cookies[DEVICE_COOKIE]
    version, expires, nonce, mac = token.split(".")
    forged = ".".join((version, str(int(expires) + 10**6), nonce, mac))
    for bad in (forged, f"{token}x", "d1.1.2.3", "nonsense", ROOM_KEY):
        stranger = client_from(LAN_ADDRESS)
        stranger.cookies.set(DEVICE_COOKIE, bad)
        assert stranger.get("/meetings").status_code in {401, 403}, bad
    other_key = RoomAccess("another-room-key")
    assert not other_key.accepts_token(token)
    assert access.accepts_token(token)


def test_tokens_expire_and_are_renewed_while_in_use() -> None:
    now = [1_000_000.0]
    access = RoomAccess(ROOM_KEY, clock=lambda: now[0])
    token = access.issue_token()
    day = 24 * 3600
    now[0] += 14 * day
    expiry = access.token_expiry(token)
    assert expiry is not None
    assert not access.wants_renewal(expiry)
    now[0] += 2 * day  # past half its life: the gate sends a fresh one
    assert access.wants_renewal(expiry)
    now[0] += 15 * day
    assert access.token_expiry(token) is None


def test_a_used_token_past_half_its_life_is_renewed(
    client_from: ClientFactory, access: RoomAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = client_from(LAN_ADDRESS)
    phone.post("/join", json={"key": ROOM_KEY})
    later = access._clock() + 20 * 24 * 3600
    monkeypatch.setattr(access, "_clock", lambda: later)
    answer = phone.get("/meetings")
    assert answer.status_code == 200
    assert answer.headers["set-cookie"].startswith(f"{DEVICE_COOKIE}=")


def test_new_key_revokes_the_old_one_and_every_device_at_once(
    client_from: ClientFactory, access: RoomAccess
) -> None:
    phones = [client_from(LAN_ADDRESS), client_from("192.168.1.78")]
    phones[0].get("/", params={"key": ROOM_KEY})
    phones[1].post("/join", json={"key": ROOM_KEY})
    for phone in phones:
        assert phone.get("/meetings").status_code == 200
    new_key = access.regenerate()
    assert new_key != ROOM_KEY
    assert access.key == new_key
    for phone in phones:
        assert_json_error(phone, "GET", "/meetings", 403)
        assert_json_error(phone, "POST", "/users/status", 403, json={"status": "engaged"})
        assert phone.get("/").status_code == 403
    lan = phones[0]
    assert_json_error(lan, "GET", "/meetings", 403, headers=BEARER)
    assert lan.get("/meetings", headers={"Authorization": f"Bearer {new_key}"}).status_code == 200
    rejoined = lan.get("/", params={"key": new_key})  # a fresh link beats the stale cookie
    assert rejoined.status_code == 200
    assert lan.get("/meetings").status_code == 200


def test_key_not_required_when_the_setting_is_off(lan: Client, access: RoomAccess) -> None:
    access.require_key = False
    assert lan.get("/meetings").status_code == 200
    assert lan.get("/").status_code == 200
    access.require_key = True
    assert lan.get("/meetings").status_code == 401


def test_health_always_answers(lan: Client) -> None:
    assert lan.get("/health").json()["status"] == "ok"
    assert lan.get("/health", headers={"Authorization": "Bearer wrong"}).status_code == 200


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_needs_no_key(client_from: ClientFactory, address: str) -> None:
    client = client_from(address)
    assert client.get("/meetings").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/meetings", headers={"host": "localhost:8765"}).status_code == 200


def test_loopback_through_a_foreign_host_name_needs_the_key(client_from: ClientFactory) -> None:
    """A page in the local browser reaching us by DNS rebinding is not trusted."""
    rebound = client_from("127.0.0.1", host="attacker.example:8765")
    assert_json_error(rebound, "GET", "/meetings", 401)
    assert rebound.get("/meetings", headers=BEARER).status_code == 200


def test_rate_limit_for_lan_clients(client_from: ClientFactory, limiter_time: ManualTime) -> None:
    lan = client_from(LAN_ADDRESS)
    other = client_from("192.168.1.78")
    for _ in range(600):
        assert lan.get("/health").status_code == 200
    limited = lan.get("/meetings", headers=BEARER)
    assert limited.status_code == 429
    assert limited.json()["status_code"] == 429
    assert limited.headers["retry-after"] == "60"
    assert other.get("/health").status_code == 200  # per address
    limiter_time.now += 45
    assert lan.get("/health").headers["retry-after"] == "15"
    limiter_time.now += 15
    assert lan.get("/health").status_code == 200


def test_loopback_is_never_rate_limited(local: Client) -> None:
    for _ in range(700):
        assert local.get("/health").status_code == 200


def test_the_key_never_reaches_the_log(lan: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        lan.get("/", params={"key": "wrong-key-attempt"})
        lan.get("/meetings", headers={"Authorization": "Bearer wrong-bearer"})
        lan.post("/join", json={"key": "wrong-join"})
        lan.get("/", params={"key": ROOM_KEY})
        lan.post("/join", json={"key": ROOM_KEY})
    server_side = [r.getMessage() for r in caplog.records if r.name != "httpx"]  # not the client
    assert any("wrong room key" in message for message in server_side)  # refusals are logged...
    for text in (ROOM_KEY, "wrong-key-attempt", "wrong-bearer", "wrong-join"):
        assert not any(text in message for message in server_side)  # ...without any key


def test_room_access_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    calls: list[tuple[bytes, bytes]] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    access = RoomAccess("clé")
    assert access.accepts("clé")
    assert not access.accepts("cle")
    assert not access.accepts("")
    assert len(calls) == 3


def test_room_access_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError, match="empty"):
        RoomAccess("")


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.0.3", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.168.1.5", False),
        ("::ffff:192.168.1.5", False),
        ("10.0.0.1", False),
        ("testclient", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_addresses(address: str | None, loopback: bool) -> None:
    assert is_loopback_address(address) is loopback


@pytest.mark.parametrize(
    ("header", "trusted"),
    [
        ("127.0.0.1:8765", True),
        ("localhost:8765", True),
        ("LOCALHOST", True),
        ("[::1]:8765", True),
        ("::1", True),  # unbracketed, yet no name a rebinding could use
        (None, True),
        ("evil.example:8765", False),
        ("192.168.1.10:8765", False),
        ("127.0.0.1.evil.example", False),
    ],
)
def test_loopback_host_headers(header: str | None, trusted: bool) -> None:
    assert is_loopback_host_header(header) is trusted


def test_rate_limiter_forgets_idle_addresses() -> None:
    time = ManualTime()
    limiter = RateLimiter(limit=2, window=10, clock=time)
    assert limiter.retry_after("a") is None
    assert limiter.retry_after("a") is None
    assert limiter.retry_after("a") == 10
    time.now += 9.5
    assert limiter.retry_after("a") == 1
    time.now += 11
    assert limiter.retry_after("b") is None
    assert "a" not in limiter._hits


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        (b"[" * 32 + b"]" * 32, False),
        (b"[" * 33 + b"]" * 33, True),
        (b'{"a":' * 32 + b"1" + b"}" * 32, False),
        (b'{"a":' * 33 + b"1" + b"}" * 33, True),
        (b'"' + b"[" * 100 + b'"', False),
        (b'["\\"' + b"[" * 100 + b'"]', False),
        (b"[]" * 1000, False),
    ],
)
def test_json_depth(text: bytes, too_deep: bool) -> None:
    assert json_too_deep(text) is too_deep


def test_wrong_keys_from_many_addresses_share_one_budget(
    client_from: ClientFactory, access: RoomAccess
) -> None:
    """Guessing spread over many addresses (the per-address limit is 600 a minute)."""
    member = client_from("192.168.1.2")
    assert member.get("/meetings", headers=BEARER).status_code == 200  # proved the key before
    phone = client_from("192.168.1.3")
    phone.post("/join", json={"key": ROOM_KEY})
    for index in range(WRONG_KEY_BUDGET):
        guesser = client_from(f"10.0.{index // 200}.{index % 200 + 1}")
        assert (
            guesser.get("/meetings", headers={"Authorization": "Bearer guess"}).status_code == 403
        )
    late = client_from("10.9.9.9")
    for headers in ({"Authorization": "Bearer guess"}, BEARER):  # right or wrong: not checked
        answer = late.get("/meetings", headers=headers)
        assert answer.status_code == 429
        assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert late.post("/join", json={"key": ROOM_KEY}).status_code == 429
    assert late.get("/", params={"key": ROOM_KEY}).status_code == 429
    assert "set-cookie" not in late.get("/", params={"key": ROOM_KEY}).headers
    assert member.get("/meetings", headers=BEARER).status_code == 200  # known: still checked
    assert phone.get("/meetings").status_code == 200  # device tokens are no guessing
    assert client_from("127.0.0.1").get("/meetings").status_code == 200  # the host


def test_the_budget_refills_after_its_window() -> None:
    time = ManualTime()
    budget = GuessBudget(limit=3, window=60, clock=time)
    for _ in range(3):
        assert budget.retry_after("a") is None
        budget.wrong()
    assert budget.retry_after("a") == 60
    time.now += 50
    assert budget.retry_after("b") == 10
    time.now += 10
    assert budget.retry_after("b") is None
    budget.right("b")
    budget.wrong()
    assert budget.retry_after("c") is None  # one wrong key in the last minute
    budget.wrong()
    budget.wrong()
    assert budget.retry_after("c") == 60
    assert budget.retry_after("b") is None  # showed the right key: exempt...
    time.now += 24 * 3600
    for _ in range(3):
        budget.wrong()
    assert budget.retry_after("b") == 60  # ...for a day


def test_refusals_are_logged_in_summary(
    client_from: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clients = [client_from(f"10.1.0.{n}") for n in range(1, 5)]
    with caplog.at_level(logging.INFO, logger="mudameter_desktop.api.gate"):
        for n in range(200):
            clients[n % 4].get("/meetings")  # 401
        clients[0].get("/meetings", headers={"Authorization": "Bearer guess"})  # 403
    lines = [r.getMessage() for r in caplog.records if r.name == "mudameter_desktop.api.gate"]
    assert len(lines) == 1  # the first refusal; the rest are counted
    assert "missing room key" in lines[0]


def test_the_summary_line_counts_reasons_and_addresses(caplog: pytest.LogCaptureFixture) -> None:
    time = ManualTime()
    refusals = RefusalLog(every=60, clock=time)
    with caplog.at_level(logging.INFO, logger="mudameter_desktop.api.gate"):
        refusals.refused("GET", "/meetings", "10.0.0.1", "missing room key")
        for n in range(30):
            refusals.refused("GET", "/meetings", f"10.0.0.{n % 3}", "wrong room key")
        refusals.refused("GET", "/", "10.0.0.9", "missing room key")
        refusals.flush_due()  # not yet: the minute is not over
        time.now += 61
        refusals.flush_due()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "Refused 31 more requests from 4 addresses" in lines[1]
    assert "wrong room key: 30" in lines[1]
    assert "missing room key: 1" in lines[1]


@pytest.mark.parametrize("address", [LAN_ADDRESS, "127.0.0.1"])
def test_a_foreign_host_name_is_refused_even_without_the_key_setting(
    client_from: ClientFactory, access: RoomAccess, address: str
) -> None:
    """DNS rebinding: a page of evil.test pointed at this machine must read nothing."""
    access.require_key = False
    rebound = client_from(address, host="evil.test:8765")
    assert_json_error(rebound, "GET", "/meetings", 421)
    assert_json_error(rebound, "POST", "/visit", 421)
    page = rebound.get("/")
    assert page.status_code == 421
    assert "does not answer to that name" in page.text
    for host in ("192.168.1.10:8765", "[fe80::1]:8765", "localhost:8765", socket.gethostname()):
        answer = client_from(address).get("/meetings", headers={"host": host})
        assert answer.status_code == 200, host
    access.require_key = True
    assert client_from(address, host="evil.test:8765").get("/meetings").status_code == 401


@pytest.mark.parametrize(
    ("request_args", "status"),
    [
        (("GET", "/"), 401),
        (("GET", "/meetings"), 401),
        (("GET", "/", {"params": {"key": "guess"}}), 403),
        (("GET", "/meetings", {"headers": {"Authorization": "Bearer guess"}}), 403),
        (("POST", "/join", {"json": {"key": "guess"}}), 403),
    ],
)
def test_refusals_carry_the_pages_security_headers(
    lan: Client, request_args: tuple[Any, ...], status: int
) -> None:
    method, path, *rest = request_args
    answer = lan.request(method, path, **(rest[0] if rest else {}))
    assert answer.status_code == status
    assert_secured(answer.headers)


def test_every_answer_carries_the_security_headers(local: Client, lan: Client) -> None:
    for answer in (
        local.get("/nothing-here"),
        local.get("/meetings/0"),
        local.get("/meetings"),
        local.post("/users/status", json={"status": "bored"}),
        local.post("/users/status", content=b"{}", headers={"content-type": "text/plain"}),
        lan.get("/health"),
    ):
        assert_secured(answer.headers)


def assert_secured(headers: Any) -> None:
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers.get_list("content-security-policy") == [headers["content-security-policy"]]
