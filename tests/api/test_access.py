"""The LAN rules: loopback free, room key for the rest, rate limit, key never logged."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from litestar.testing import TestClient

from mudameter_desktop.api.access import (
    RoomAccess,
    is_loopback_address,
    is_loopback_host_header,
)
from mudameter_desktop.api.gate import KEY_COOKIE, ASGIApp
from mudameter_desktop.api.limits import RateLimiter, json_too_deep
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


def test_join_link_sets_the_cookie_and_drops_the_key_from_the_address(lan: Client) -> None:
    answer = lan.get("/", params={"key": ROOM_KEY}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{KEY_COOKIE}={ROOM_KEY};")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    page = lan.get("/")  # the client keeps the cookie, as a browser does
    assert page.status_code == 200
    assert 'data-status="engaged"' in page.text
    assert lan.post("/visit").status_code == 200


def test_join_link_with_a_wrong_key(lan: Client) -> None:
    answer = lan.get("/", params={"key": "guess"}, follow_redirects=False)
    assert answer.status_code == 403
    assert "no longer valid" in answer.text
    assert "set-cookie" not in answer.headers


def test_key_in_the_query_only_joins_on_the_page(lan: Client) -> None:
    assert_json_error(lan, "GET", "/meetings", 401, params={"key": ROOM_KEY})


def test_new_key_revokes_the_old_one_at_once(lan: Client, access: RoomAccess) -> None:
    lan.get("/", params={"key": ROOM_KEY})
    assert lan.get("/meetings").status_code == 200
    new_key = access.regenerate()
    assert new_key != ROOM_KEY
    assert access.key == new_key
    assert_json_error(lan, "GET", "/meetings", 403)
    assert_json_error(lan, "GET", "/meetings", 403, headers=BEARER)
    assert lan.get("/").status_code == 403
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
        lan.get("/", params={"key": ROOM_KEY})
        lan.get("/", params={"key": "wrong-key-attempt"})
        lan.get("/meetings", headers={"Authorization": "Bearer wrong-bearer"})
    server_side = [r.getMessage() for r in caplog.records if r.name != "httpx"]  # not the client
    assert any("wrong room key" in message for message in server_side)  # refusals are logged...
    for text in (ROOM_KEY, "wrong-key-attempt", "wrong-bearer"):
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
