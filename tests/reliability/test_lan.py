"""LAN access control, from a real non-loopback address in a network namespace.

The test makes a namespace joined to this machine by a veth pair on a private
/30, binds the server to the host side, and runs clients inside the namespace.
Only those two addresses (and 127.0.0.1) are ever used.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tzlocal

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.gate import WRONG_KEY_BUDGET
from mudameter_desktop.api.server import ServerThread
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore
from tests.reliability.conftest import (
    HERE,
    PYTHON,
    App,
    answers_health,
    free_port,
    headless_args,
    wait_for,
)

KEY = "lan-room-key-Xq7pZ2-0123456"  # 22+ characters: a --room-key is checked


@dataclass(frozen=True)
class Namespace:
    name: str
    host_address: str  # this machine's side of the veth pair
    client_address: str  # the namespace's side: the "LAN machine"

    def run(self, base_url: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                self.name,
                PYTHON,
                str(HERE / "lan_client.py"),
                base_url,
                json.dumps(steps),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout))


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def namespace() -> Iterator[Namespace]:
    tag = os.getpid() % 100_000
    block = 4 * (os.getpid() % 63 + 1)  # a /30 of 10.231.77.0/24, per test process
    ns = Namespace(f"mudameter-{tag}", f"10.231.77.{block + 1}", f"10.231.77.{block + 2}")
    host_side, ns_side = f"mmh{tag}", f"mmn{tag}"
    ip("netns", "add", ns.name)
    try:
        ip("link", "add", host_side, "type", "veth", "peer", "name", ns_side)
        ip("link", "set", ns_side, "netns", ns.name)
        ip("addr", "add", f"{ns.host_address}/30", "dev", host_side)
        ip("link", "set", host_side, "up")
        ip("-n", ns.name, "addr", "add", f"{ns.client_address}/30", "dev", ns_side)
        ip("-n", ns.name, "link", "set", ns_side, "up")
        ip("-n", ns.name, "link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", host_side], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", ns.name], check=False, capture_output=True)


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """Everything the app logs, at every level, as the app's log file would get it."""
    path = tmp_path / "everything.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


@pytest.fixture
def lan_server(
    namespace: Namespace, store: OpenedStore, log_file: Path
) -> Iterator[tuple[ServerThread, RoomAccess]]:
    access = RoomAccess(KEY)
    server = ServerThread(
        MeterService(store.engine, tzlocal.get_localzone()), access, namespace.host_address, 0
    )
    server.start()
    yield server, access
    server.stop()


def url_of(server: ServerThread) -> str:
    return f"http://{server.host}:{server.port}"


def get(path: str, **headers: str) -> dict[str, Any]:
    return {"method": "GET", "path": path, "headers": headers}


def post(path: str, body: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
    return {"method": "POST", "path": path, "headers": headers, "json": body}


BEARER = f"Bearer {KEY}"
PATHS = ["/meetings", "/meetings/1", "/schema/openapi.json", "/static/app.js", "/nowhere"]


def test_no_key_is_401_everywhere_but_health(
    namespace: Namespace, lan_server: tuple[ServerThread, RoomAccess]
) -> None:
    server, _ = lan_server
    steps = [get("/"), get("/health"), *map(get, PATHS)]
    steps += [post("/users/status", {"status": "engaged"}), post("/visit"), post("/meetings")]
    page, health, *api = namespace.run(url_of(server), steps)
    assert page["status"] == 401
    assert page["headers"]["content-type"].startswith("text/html")
    assert "join link" in page["body"] and "QR code" in page["body"]
    assert health["status"] == 200
    assert json.loads(health["body"])["status"] == "ok"
    for answer in api:
        assert answer["status"] == 401, answer
        assert answer["headers"]["content-type"] == "application/json"
        assert json.loads(answer["body"])["status_code"] == 401


def test_pretending_to_be_local_does_not_help(
    namespace: Namespace, lan_server: tuple[ServerThread, RoomAccess]
) -> None:
    server, _ = lan_server
    local = f"127.0.0.1:{server.port}"
    steps = [
        get("/meetings", Host=local),
        get("/meetings", Host="localhost"),
        get("/meetings", **{"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"}),
        get("/meetings", Forwarded="for=127.0.0.1"),
        post("/users/status", {"status": "engaged"}, Host=local, Origin=f"http://{local}"),
    ]
    for answer in namespace.run(url_of(server), steps):
        assert answer["status"] == 401, answer


def test_wrong_key_is_403(
    namespace: Namespace, lan_server: tuple[ServerThread, RoomAccess]
) -> None:
    server, _ = lan_server
    wrong = "Bearer " + KEY[:-1] + "x"
    steps = [get(path, Authorization=wrong) for path in PATHS]
    steps += [post("/users/status", {"status": "engaged"}, Authorization=wrong)]
    steps += [get("/?key=not-the-key"), get("/", Cookie="mudameter_device=d1.9999999999.x.y")]
    *api, join_page, cookie_page = namespace.run(url_of(server), steps)
    for answer in api:
        assert answer["status"] == 403, answer
    for page in (join_page, cookie_page):
        assert page["status"] == 403
        assert page["headers"]["content-type"].startswith("text/html")
        assert page["set_cookie"] == []


def test_right_key_by_bearer_and_by_the_join_link_cookie(
    namespace: Namespace, lan_server: tuple[ServerThread, RoomAccess]
) -> None:
    server, _ = lan_server
    steps = [
        get("/meetings", Authorization=BEARER),
        post("/users/status", {"status": "speaking"}, Authorization=BEARER),
        get(f"/?key={KEY}"),  # the old join link: the page, with a device cookie
        get("/"),  # the page again, now with the cookie only
        get("/static/app.js"),
        post("/visit"),
        get("/meetings/1"),
    ]
    bearer_list, bearer_status, joined, page, script, visit, detail = namespace.run(
        url_of(server), steps
    )
    assert bearer_list["status"] == 200
    assert bearer_status["status"] == 200
    assert joined["status"] == 200  # the page drops the key from the address bar itself
    (cookie,) = joined["set_cookie"]
    assert cookie.startswith("mudameter_device=")
    assert KEY not in cookie  # a device token, never the key
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert attribute in cookie
    assert page["status"] == 200
    assert page["headers"]["content-type"].startswith("text/html")
    assert script["status"] == 200
    assert visit["status"] == 200
    assert detail["status"] == 200
    assert json.loads(detail["body"])["participant_count"] == 2


def test_a_new_key_refuses_the_old_one_at_once(
    namespace: Namespace, lan_server: tuple[ServerThread, RoomAccess]
) -> None:
    server, access = lan_server
    joined = namespace.run(url_of(server), [get(f"/?key={KEY}")])[0]
    assert joined["status"] == 200
    new_key = access.regenerate()
    old_cookie = joined["set_cookie"][0].split(";")[0]  # the device token of the old key
    steps = [
        get("/meetings", Authorization=BEARER),
        get("/meetings", Cookie=old_cookie),
        get("/", Cookie=old_cookie),
        get("/meetings", Authorization=f"Bearer {new_key}"),
        get(f"/?key={new_key}"),
    ]
    old_bearer, old_api_cookie, old_page_cookie, new_bearer, new_join = namespace.run(
        url_of(server), steps
    )
    assert old_bearer["status"] == 403
    assert old_api_cookie["status"] == 403
    assert old_page_cookie["status"] == 403
    assert new_bearer["status"] == 200
    assert new_join["status"] == 200


@pytest.mark.slow
def test_brute_force_is_slowed_by_the_rate_limit(
    namespace: Namespace, lan_server: tuple[ServerThread, RoomAccess], log_file: Path
) -> None:
    server, access = lan_server
    guesses = {"method": "GET", "path": "/meetings", "repeat": 650}
    guesses["headers"] = {"Authorization": "Bearer guess"}
    steps = [guesses, get("/meetings", Authorization=BEARER), get("/health")]
    burst, with_key, health = namespace.run(url_of(server), steps)
    # The global budget of wrong keys (all addresses together) runs out first.
    assert burst["counts"] == {"403": WRONG_KEY_BUDGET, "429": 650 - WRONG_KEY_BUDGET}
    assert burst["retry_after"] is not None
    assert 1 <= int(burst["retry_after"]) <= 60
    # Once limited, even the right key waits: guessing gains nothing by going faster.
    assert with_key["status"] == 429
    assert health["status"] == 429
    assert int(with_key["headers"]["retry-after"]) >= 1
    log_text = log_file.read_text(encoding="utf-8")
    assert "Refused GET /meetings" in log_text  # the refusals are logged...
    assert log_text.count("Refused") <= 2  # ...in summary, not 650 lines
    assert access.key not in log_text  # ...never the key


def test_the_key_never_reaches_the_log(
    namespace: Namespace, lan_server: tuple[ServerThread, RoomAccess], log_file: Path
) -> None:
    server, access = lan_server
    steps = [
        get(f"/?key={KEY}"),
        get("/meetings", Authorization=BEARER),
        get("/meetings", Authorization="Bearer wrong-" + KEY),
        get(f"/?key=wrong-{KEY}"),
        get(f"/meetings?key={KEY}"),
        get("/meetings/0", Authorization=BEARER),
        post("/users/status", {"status": "bogus"}, Authorization=BEARER),
    ]
    namespace.run(url_of(server), steps)
    new_key = access.regenerate()
    namespace.run(url_of(server), [get(f"/?key={new_key}"), get(f"/?key={KEY}")])
    log_text = log_file.read_text(encoding="utf-8")
    assert log_text  # the server did log
    assert KEY not in log_text
    assert new_key not in log_text


def test_no_access_log_even_when_uvicorn_would_propagate_it(
    namespace: Namespace,
    store: OpenedStore,
    log_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvicorn's protocol logs access whenever its logger reaches a handler; a logging
    set-up that leaves `uvicorn.access` propagating must not put join links in the log."""
    import uvicorn

    monkeypatch.setattr(uvicorn.Config, "configure_logging", lambda _self: None)
    monkeypatch.setattr(logging.getLogger("uvicorn.access"), "propagate", True)
    monkeypatch.setattr(logging.getLogger("uvicorn.access"), "disabled", False)
    server = ServerThread(
        MeterService(store.engine, tzlocal.get_localzone()),
        RoomAccess(KEY),
        namespace.host_address,
        0,
    )
    server.start()
    try:
        answers = namespace.run(url_of(server), [get(f"/?key=x{KEY}"), get(f"/?key={KEY}")])
    finally:
        server.stop()
    assert [answer["status"] for answer in answers] == [403, 200]
    log_text = log_file.read_text(encoding="utf-8")
    assert "HTTP server listening" in log_text
    assert KEY not in log_text


def test_headless_on_the_lan_prints_the_join_link_and_never_logs_the_key(
    namespace: Namespace, tmp_path: Path, apps: Callable[..., App]
) -> None:
    port = free_port()
    server = apps(
        headless_args(tmp_path, port, "--host", namespace.host_address, "--room-key", KEY)
    )
    url = f"http://{namespace.host_address}:{port}"
    wait_for(lambda: any("Join link" in line for line in server.stdout.lines), what="join link")
    assert answers_health(url)
    link = f"{url}/#key={KEY}"
    assert f"Join link: {link}\n" in server.stdout.lines
    steps = [
        get("/meetings"),
        get("/meetings", Authorization=BEARER),
        get(f"/?key={KEY}"),
        get("/meetings", Authorization="Bearer nope"),
    ]
    no_key, with_key, joined, wrong = namespace.run(url, steps)
    assert (no_key["status"], with_key["status"], joined["status"], wrong["status"]) == (
        401,
        200,
        200,
        403,
    )
    server.signal(signal.SIGTERM)
    assert server.wait() == 0
    log_text = (tmp_path / "logs" / "mudameter.log").read_text(encoding="utf-8")
    assert "Refused" in log_text
    assert KEY not in log_text
    assert KEY not in server.stderr.text  # the log's stderr copy neither
