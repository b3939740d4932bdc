"""Issue 11's access findings, replayed from another machine: a network namespace.

The namespace and the server on its veth peer come from tests/reliability/test_lan.py;
traffic stays between the two addresses of that private /30.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.gate import WRONG_KEY_BUDGET
from mudameter_desktop.api.network import (
    address_present,
    network_address,
    share_host,
    stop_if_network_left,
)
from mudameter_desktop.api.server import ServerThread
from mudameter_desktop.domain.participants import MAX_LIVE_PER_ADDRESS
from mudameter_desktop.domain.statuses import ParticipantKind, Status
from mudameter_desktop.hosts import ALL_INTERFACES
from mudameter_desktop.runtime import is_shared
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore
from tests.reliability import test_lan as lan_tests
from tests.reliability.test_lan import KEY, Namespace, get, ip, post, url_of

# The namespace and the server on its veth peer, as test_lan.py makes them.
namespace = lan_tests.namespace
lan_server = lan_tests.lan_server
log_file = lan_tests.log_file

BEARER = f"Bearer {KEY}"
LanServer = tuple[ServerThread, RoomAccess]


def body_of(answer: dict[str, Any]) -> Any:
    return json.loads(answer["body"])


def test_fifty_anonymous_posts_from_one_address_make_at_most_five_participants(
    namespace: Namespace, lan_server: LanServer
) -> None:
    server, _ = lan_server
    flood = post("/users/status", {"status": "disengaged"}, Authorization=BEARER)
    flood["repeat"] = 50
    burst, detail = namespace.run(url_of(server), [flood, get("/meetings/1", Authorization=BEARER)])
    assert burst["counts"] == {"200": MAX_LIVE_PER_ADDRESS, "429": 50 - MAX_LIVE_PER_ADDRESS}
    meeting = body_of(detail)
    assert meeting["participant_count"] <= MAX_LIVE_PER_ADDRESS
    assert meeting["room"]["disengaged"] <= MAX_LIVE_PER_ADDRESS


def test_an_explicit_start_from_the_lan_is_403(namespace: Namespace, lan_server: LanServer) -> None:
    server, _ = lan_server
    start = {"starts_at": "2026-11-27T10:00:00Z", "duration_minutes": 1440}
    refused, detected = namespace.run(
        url_of(server),
        [
            post("/meetings", start, Authorization=BEARER),
            post("/meetings", {}, Authorization=BEARER),
        ],
    )
    assert refused["status"] == 403
    assert body_of(refused)["detail"] == "Only the host can start a meeting"
    assert detected["status"] in {200, 201}  # detection stays open to the LAN


def test_the_hosts_id_posted_from_the_lan_leaves_the_host_alone(
    namespace: Namespace, lan_server: LanServer
) -> None:
    server, _ = lan_server
    service = server._service  # the tray's own service: the host clicks "engaged"
    host = service.record_status(Status.ENGAGED, kind=ParticipantKind.LOCAL)
    steps = [
        post(
            "/users/status",
            {"status": "disengaged", "participant_id": host.participant_id},
            Authorization=BEARER,
        ),
        post("/visit", {"participant_id": host.participant_id}, Authorization=BEARER),
        get(f"/meetings/{host.meeting_id}", Authorization=BEARER),
    ]
    posted, visited, detail = namespace.run(url_of(server), steps)
    assert posted["status"] == visited["status"] == 200
    assert body_of(posted)["participant_id"] != host.participant_id
    assert body_of(visited)["participant_id"] != host.participant_id
    assert service.live_view(host.participant_id).status is Status.ENGAGED
    participants = body_of(detail)["participants"]
    assert host.participant_id not in detail["body"]  # ids are never listed
    assert {p["kind"] for p in participants} == {None}  # nobody can pick out the host
    assert {p["status_at"] for p in participants} == {None}
    mine = next(p for p in participants if p["handle"] == host.handle)
    assert mine["status"] == "engaged"


def test_the_page_trades_the_key_for_a_device_cookie(
    namespace: Namespace, lan_server: LanServer
) -> None:
    server, access = lan_server
    steps = [
        post("/join", {"key": "guess"}),
        post("/join", {"key": KEY}),
        get("/meetings"),  # the cookie alone
    ]
    wrong, joined, listed = namespace.run(url_of(server), steps)
    assert wrong["status"] == 403
    assert wrong["set_cookie"] == []
    assert joined["status"] == 200
    (cookie,) = joined["set_cookie"]
    assert cookie.startswith("mudameter_device=")
    assert KEY not in cookie
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
        assert attribute in cookie
    assert listed["status"] == 200
    access.regenerate()  # "New room key": that device is out at once
    token = cookie.split(";")[0]
    (after,) = namespace.run(url_of(server), [get("/meetings", Cookie=token)])
    assert after["status"] == 403


def test_guessing_from_the_lan_spends_the_global_budget_and_is_logged_in_summary(
    namespace: Namespace, lan_server: LanServer, log_file: Path
) -> None:
    server, access = lan_server
    guesses = get("/meetings", Authorization="Bearer guess")
    guesses["repeat"] = WRONG_KEY_BUDGET + 40
    burst, right_key, page = namespace.run(
        url_of(server), [guesses, get("/meetings", Authorization=BEARER), get(f"/?key={KEY}")]
    )
    assert burst["counts"] == {"403": WRONG_KEY_BUDGET, "429": 40}
    assert right_key["status"] == 429  # no key is checked for this address now
    assert page["status"] == 429
    assert page["set_cookie"] == []
    log_text = log_file.read_text(encoding="utf-8")
    assert log_text.count("Refused") == 1  # the first refusal; the rest are counted
    assert access.key not in log_text


def test_without_the_key_setting_a_foreign_host_name_is_refused(
    namespace: Namespace, lan_server: LanServer
) -> None:
    server, access = lan_server
    access.require_key = False
    evil, page, own = namespace.run(
        url_of(server),
        [
            get("/meetings", Host=f"evil.test:{server.port}"),
            get("/", Host="evil.test"),
            get("/meetings"),  # by the address of the join link
        ],
    )
    assert evil["status"] == 421
    assert page["status"] == 421
    assert "frame-ancestors 'none'" in page["headers"]["content-security-policy"]
    assert own["status"] == 200


def test_the_servers_refusals_cannot_be_framed(namespace: Namespace, lan_server: LanServer) -> None:
    server, _ = lan_server
    answers = namespace.run(
        url_of(server),
        [
            get("/"),
            get("/meetings"),
            get("/?key=wrong"),
            get("/meetings", Authorization="Bearer x"),
        ],
    )
    assert [answer["status"] for answer in answers] == [401, 401, 403, 403]
    for answer in answers:
        assert "frame-ancestors 'none'" in answer["headers"]["content-security-policy"]
        assert answer["headers"]["x-frame-options"] == "DENY"


def test_sharing_stops_when_the_shared_address_leaves_this_machine(
    namespace: Namespace, store: OpenedStore
) -> None:
    """The laptop leaves the office network: the server must not stay on (or follow) it."""
    device = f"mmh{os.getpid() % 100_000}"  # the host side of the namespace's veth pair
    address = namespace.host_address.replace(".77.", ".78.")  # a second address, ours alone
    ip("addr", "add", f"{address}/32", "dev", device)
    server = ServerThread(MeterService(store.engine, ZoneInfo("UTC")), RoomAccess(KEY), address, 0)
    try:
        server.start()
        assert address_present(address)
        assert stop_if_network_left(server) is None  # still here: nothing changes
        assert server.host == address
        ip("addr", "del", f"{address}/32", "dev", device)
        assert not address_present(address)
        message = stop_if_network_left(server)
        assert message is not None and address in message
        assert server.host == "127.0.0.1"  # this machine keeps working
        assert server.running
        assert not is_shared(server)
    finally:
        server.stop()
        subprocess.run(
            ["ip", "addr", "del", f"{address}/32", "dev", device], check=False, capture_output=True
        )


def test_share_on_lan_binds_the_current_network_not_every_interface() -> None:
    host = share_host()
    assert host != ALL_INTERFACES
    assert host == (network_address() or "127.0.0.1")
    assert share_host(all_interfaces=True) == ALL_INTERFACES
    assert address_present("127.0.0.1")
    assert address_present(ALL_INTERFACES)
    assert not address_present("192.0.2.77")  # TEST-NET-1: never this machine's
