"""Hostile and malformed input: schemathesis over the OpenAPI document, then by hand."""

from __future__ import annotations

import atexit
import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance, unsupported_method

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.app import create_app
from mudameter_desktop.api.limits import ConnectionLimits, RateLimiter
from mudameter_desktop.api.server import ServerThread
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore, open_store, sqlite_url
from tests.reliability.conftest import answers_health, wait_for

KEY = "hostile-test-key"
BEARER = {"Authorization": f"Bearer {KEY}"}
CASES_TRIED = {"schemathesis": 0}
LEAKS = ("Traceback", 'File "', "sqlalchemy", "sqlite3.", "mudameter_desktop/")


def no_leak(text: str) -> None:
    for marker in LEAKS:
        assert marker not in text, f"the answer leaks {marker!r}: {text[:300]}"


def _load_schema() -> schemathesis.schemas.BaseSchema:
    """The app's own OpenAPI document, loaded from the app in-process (no network).

    Loaded at collection (schemathesis parametrizes by operation), with its own
    database in a folder removed when the test run ends.
    """
    folder = Path(tempfile.mkdtemp(prefix="mudameter-schemathesis-"))
    store = open_store(sqlite_url(folder / "db.sqlite3"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    atexit.register(store.close)
    service = MeterService(store.engine, ZoneInfo("Asia/Kolkata"))
    # The in-process client is not on loopback: every request passes the gate with the key.
    app = create_app(service, RoomAccess(KEY), RateLimiter(limit=10**9))
    return schemathesis.openapi.from_asgi("/schema/openapi.json", app, headers=BEARER)


# The `/rooms/{slug}/…` operations are the same handlers mounted again
# (tests/api/test_rooms_api.py checks the mounting); fuzzing them twice would
# double the cases, and a random slug only meets the key check.
schema = _load_schema().exclude(path_regex="^/rooms/")


@pytest.fixture(scope="module", autouse=True)
def report_cases() -> Iterator[None]:
    yield
    print(f"\nschemathesis cases tried: {CASES_TRIED['schemathesis']}")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same cases on every CI run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_by_its_schema(case: schemathesis.Case[Any]) -> None:
    """Every default check: no 5xx, status codes, content types, headers and bodies as
    documented, invalid input refused and valid input accepted."""
    CASES_TRIED["schemathesis"] += 1
    response = case.call_and_validate(headers=BEARER)
    no_leak(response.text)


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_without_the_key_every_operation_is_a_documented_refusal(
    case: schemathesis.Case[Any],
) -> None:
    """A LAN client without the key gets the documented 401 from every operation but
    /health. Not `positive_data_acceptance` (nothing is accepted without the key) nor
    `unsupported_method`: the key is checked before routing, so an undeclared method
    is a 401 too and reveals nothing about the routes."""
    CASES_TRIED["schemathesis"] += 1
    response = case.call_and_validate(
        excluded_checks=[positive_data_acceptance, unsupported_method]
    )
    if case.path == "/health":
        assert response.status_code in {200, 204, 405}  # 204: OPTIONS
    else:
        assert response.status_code == 401
    no_leak(response.text)


# -- by hand, against the real server ----------------------------------------


@pytest.fixture
def served(store: OpenedStore) -> Iterator[tuple[ServerThread, MeterService]]:
    service = MeterService(store.engine, ZoneInfo("Europe/Berlin"))
    server = ServerThread(service, RoomAccess(KEY), "127.0.0.1", 0)
    server.start()
    yield server, service
    server.stop()


@pytest.fixture
def client(served: tuple[ServerThread, MeterService]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0].local_url.rstrip("/"), timeout=10) as http:
        yield http


@pytest.fixture
def port(served: tuple[ServerThread, MeterService]) -> int:
    return served[0].port


def raw(port: int, request: bytes) -> bytes:
    """Send bytes exactly as given (no client normalises them) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def refused(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    no_leak(response.text)
    body = response.json()
    assert body["status_code"] == status
    return dict(body)


def test_huge_bodies_are_413_declared_or_chunked(client: httpx.Client) -> None:
    big = b'{"status": "engaged", "participant_id": "' + b"x" * 2_000_000 + b'"}'
    refused(client.post("/users/status", content=big), 413)

    def chunks() -> Iterator[bytes]:
        yield b'{"status": "engaged", "pad": "'
        for _ in range(200):
            yield b"y" * 10_000
        yield b'"}'

    refused(client.post("/users/status", content=chunks()), 413)
    refused(client.post("/meetings", content=chunks()), 413)


@pytest.mark.parametrize("depth", [33, 1000, 2000])
def test_deep_json_is_400(client: httpx.Client, depth: int) -> None:
    body = ("[" * depth + "]" * depth).encode()
    refused(client.post("/users/status", content=body), 400)
    body = ('{"participant_id": ' + '{"a": ' * depth + "1" + "}" * depth + "}").encode()
    refused(client.post("/visit", content=body), 400)


@pytest.mark.parametrize(
    "body", [b'{"status": "\xff\xfe"}', b"\xc3\x28", b'{"status": "engaged\xed\xa0\x80"}']
)
def test_invalid_utf8_is_400(client: httpx.Client, body: bytes) -> None:
    headers = {"content-type": "application/json"}
    refused(client.post("/users/status", content=body, headers=headers), 400)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
def test_wrong_content_types_are_415(client: httpx.Client, content_type: str) -> None:
    """A cross-site form or `fetch` without a preflight sends these: never accepted."""
    body = b'{"status": "engaged"}'
    for path in ("/users/status", "/visit", "/meetings"):
        refused(client.post(path, content=body, headers={"content-type": content_type}), 415)
    assert client.get("/meetings").json()["total"] == 0


def test_cross_site_writes_from_a_local_browser_are_refused(client: httpx.Client) -> None:
    evil = {"origin": "http://evil.example", "content-type": "application/json"}
    refused(client.post("/users/status", json={"status": "engaged"}, headers=evil), 403)
    refused(client.post("/meetings", headers={"origin": "null"}), 403)
    own = {"origin": str(client.base_url).rstrip("/")}
    assert client.post("/users/status", json={"status": "engaged"}, headers=own).status_code == 200


@pytest.mark.parametrize(
    "page", ["-1", "0", "-99999999999999999999", "99999999999999999999999", "1.5", "abc", "", "%00"]
)
def test_bad_page_numbers_are_400(client: httpx.Client, page: str) -> None:
    refused(client.get(f"/meetings?page={page}"), 400)


def test_the_largest_page_is_empty_not_an_overflow(client: httpx.Client) -> None:
    answer = client.get(f"/meetings?page={10**15}")
    assert answer.status_code == 200
    assert answer.json()["items"] == []


SQL_LIKE = [
    "'; DROP TABLE meeting; --",
    '" OR 1=1 --',
    "Robert'); DELETE FROM status_change WHERE ('1'='1",
    "%' UNION SELECT version_num FROM alembic_version --",
    "\x1a\\'",  # a NUL is a 400 on every database: tests/api/test_input_limits.py
]


@pytest.mark.parametrize("text", SQL_LIKE)
def test_sql_like_strings_are_plain_data(client: httpx.Client, text: str) -> None:
    made = client.post(
        "/meetings", json={"starts_at": "2026-01-05T08:00:00Z", "title": text}
    ).json()
    assert made["title"] == text
    assert client.get(f"/meetings/{made['id']}").json()["title"] == text
    status = client.post("/users/status", json={"status": "engaged", "participant_id": text})
    assert status.status_code == 200
    assert status.json()["participant_id"] != text  # an unknown id gets a new participant
    listed = client.get("/meetings").json()
    assert listed["total"] >= 2  # nothing dropped or deleted
    quoted = quote(text, safe="")
    for path in (f"/meetings/{quoted}", f"/meetings?page={quoted}"):
        answer = client.get(path)
        assert answer.status_code in {400, 404}
        no_leak(answer.text)


def test_a_10_kb_title_is_400_and_a_200_character_one_is_kept(client: httpx.Client) -> None:
    long = "Ü" + "x" * 10_240
    refused(client.post("/meetings", json={"title": long}), 400)
    refused(
        client.post("/meetings", json={"starts_at": "2026-01-05T08:00:00Z", "title": long}), 400
    )
    fits = "x" * 200
    made = client.post("/meetings", json={"starts_at": "2026-01-05T08:00:00Z", "title": fits})
    assert made.status_code == 201
    assert made.json()["title"] == fits


TRAVERSALS = [
    b"/static/../../etc/passwd",
    b"/static/..%2F..%2Fetc%2Fpasswd",
    b"/static/%2e%2e/%2e%2e/etc/passwd",
    b"/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    b"/static/%252e%252e%252fetc%252fpasswd",
    b"/static/..%5c..%5cetc%5cpasswd",
    b"/static/....//....//etc/passwd",
    b"/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    b"/static/app.js%00.html",
    b"/static//etc/passwd",
    b"/static/%2Fetc%2Fpasswd",
    b"/../../../../etc/passwd",
    b"/static/../pyproject.toml",
    b"/static/../__init__.py",
]


@pytest.mark.parametrize("path", TRAVERSALS, ids=lambda p: p.decode())
def test_path_traversal_on_static_files_reaches_nothing(port: int, path: bytes) -> None:
    answer = raw(
        port, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    assert status_of(answer) in {400, 404}, answer[:200]
    for secret in (b"root:", b"[project]", b"mudameter_desktop", b"Traceback"):
        assert secret not in answer


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/", "text/html"), ("/static/app.js", "text/javascript"), ("/static/style.css", "text/css")],
)
def test_known_files_are_served_with_one_charset(
    client: httpx.Client, path: str, kind: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == f"{kind}; charset=utf-8"
    assert answer.headers["x-content-type-options"] == "nosniff"


def lan_request(port: int, headers: bytes, path: bytes = b"/meetings") -> bytes:
    """A request the gate treats as from the LAN: a foreign Host needs the room key."""
    return raw(
        port,
        b"GET "
        + path
        + b" HTTP/1.1\r\nHost: meeting-room.lan:8765\r\n"
        + headers
        + b"Connection: close\r\n\r\n",
    )


@pytest.mark.parametrize(
    "header",
    [
        b"Authorization: Bearer " + KEY.encode() + b"\rX-Injected: 1\r\n",
        b"Authorization: Bearer wrong\r\nX-Injected: 1\r\n",
        b"Authorization: Bearer " + b"k" * 60_000 + b"\r\n",
        b"Authorization: Bearer " + "Schlüssel-ключ-鍵".encode() + b"\r\n",
        b"Authorization: Bearer " + "Schlüssel".encode("latin-1") + b"\r\n",
        b"Authorization: Bearer \x00\x01\x7f\r\n",
        b"Cookie: mudameter_key=" + b"%0d%0aSet-Cookie:%20evil=1" + b"\r\n",
        b"Cookie: mudameter_key=%ff%fe%00\r\n",
        b"Authorization: Bearer\r\n",
        b"Authorization: Basic " + KEY.encode() + b"\r\n",
    ],
)
def test_header_injection_in_the_room_key_is_refused(port: int, header: bytes) -> None:
    answer = lan_request(port, header)
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert status_of(answer) in {400, 401, 403, 431}, answer[:300]
    assert b"x-injected" not in head
    assert b"set-cookie" not in head
    assert b"Traceback" not in answer


@pytest.mark.parametrize(
    "query",
    [
        b"key=%0d%0aSet-Cookie:%20evil=1",
        b"key=" + KEY.encode() + b"%0d%0aLocation:%20http://evil.example",
        b"key=" + b"a" * 8000,
        b"key=%ff%fe",
        b"key=%E2%80%AE" + KEY.encode(),
    ],
)
def test_header_injection_through_the_join_link_is_refused(port: int, query: bytes) -> None:
    answer = lan_request(port, b"", b"/?" + query)
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert status_of(answer) in {400, 403, 414}, answer[:300]
    assert b"set-cookie" not in head
    assert b"evil.example" not in head


def test_the_right_key_in_the_join_link_sets_a_safe_cookie(port: int) -> None:
    answer = lan_request(port, b"", b"/?key=" + KEY.encode())
    head = answer.split(b"\r\n\r\n", 1)[0]
    assert status_of(answer) == 200  # the page, which drops the key from the address bar
    cookie = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"set-cookie"))
    assert KEY.encode() not in cookie  # a device token, never the key
    assert b"HttpOnly" in cookie
    assert b"SameSite=Strict" in cookie
    assert b"Path=/" in cookie


def test_malformed_http_is_answered_without_a_traceback(port: int) -> None:
    for request in (
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
        b"POST /users/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /users/status HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n",
    ):
        answer = raw(port, request)
        assert b"Traceback" not in answer
        if answer:
            assert status_of(answer) < 500


def closed_within(port: int, request: bytes, seconds: float) -> bool:
    """Whether the server closes a connection that sent `request` and then stalled
    (with nothing, or a 408 for a request head left unfinished)."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as connection:
        connection.sendall(request)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except TimeoutError:
            return False
        return answer == b"" or answer.startswith(b"HTTP/1.1 408 ")


def test_stalled_clients_are_cut_off(store: OpenedStore) -> None:
    """A connection that never finishes its request holds a file descriptor: not for long.

    (Found: uvicorn waited forever, and the rate limit counts only complete requests.)
    """
    server = ServerThread(
        MeterService(store.engine, ZoneInfo("UTC")),
        RoomAccess(KEY),
        "127.0.0.1",
        0,
        limits=ConnectionLimits(deadline_s=0.5),
    )
    server.start()
    try:
        port = server.port
        for stall in (
            b"",  # connected, said nothing
            b"GET /meetings HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # half a request head
            b"POST /visit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n{",
        ):
            assert closed_within(port, stall, 5.0), stall
        # A slow but complete request is answered, and keep-alive still works.
        with httpx.Client(base_url=server.local_url.rstrip("/"), timeout=10) as client:
            assert client.get("/health").status_code == 200
            assert client.post("/visit").status_code == 200
    finally:
        server.stop()


def test_one_client_cannot_hoard_connections(store: OpenedStore) -> None:
    server = ServerThread(
        MeterService(store.engine, ZoneInfo("UTC")),
        RoomAccess(KEY),
        "127.0.0.1",
        0,
        limits=ConnectionLimits(from_loopback=8),  # loopback counts as one client
    )
    server.start()
    hoard = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(8)]
    try:
        assert closed_within(server.port, b"", 5.0)  # the ninth is closed at once
        for connection in hoard:
            connection.settimeout(0.2)
            with pytest.raises(TimeoutError):
                connection.recv(1)  # the first eight stay open
    finally:
        for connection in hoard:
            connection.close()
    try:
        # Closed ones are counted out: the client may connect again.
        wait_for(lambda: answers_health(server.local_url.rstrip("/")), what="a free slot")
    finally:
        server.stop()


def test_every_error_answer_is_json_without_internals(client: httpx.Client) -> None:
    bad = [
        client.get("/meetings/0"),
        client.get("/meetings/99999999999999999999999"),
        client.get("/nowhere"),
        client.delete("/meetings"),
        client.post("/users/status", json={"status": "ENGAGED"}),
        client.post("/users/status", json={"status": "engaged", "participant_id": 5}),
        client.post("/meetings", json={"at": "2026-11-27T10:00:00"}),
        client.post("/meetings", json={"at": 1764237600}),
        client.post("/meetings", json={"starts_at": "99999-01-01T00:00:00Z"}),
        client.post("/meetings", json={"at": "0001-01-01T00:00:00+14:00"}),
    ]
    for answer in bad:
        assert 400 <= answer.status_code < 500, (answer.request.url, answer.text)
        no_leak(answer.text)
        assert json.loads(answer.text)["status_code"] == answer.status_code
