"""Inputs at the edge of what a database can hold: the same answer on SQLite and PostgreSQL.

PostgreSQL refuses a NUL character in text and an integer beyond its column's
range; SQLite takes both. The API checks them itself, so a client gets the
same 400 or 404 on either engine, never a 500 (SPEC §2). These run on both
databases through the `store` fixture.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import LAN_ADDRESS, ClientFactory
from tests.api.test_errors import Client, assert_error

NUL = "\x00"
TEXTS_WITH_NUL = [NUL, f"Stand-up{NUL}", f"{NUL}drop table meeting", "a" * 20 + NUL + "b" * 20]
INT32_PAST = 2**31  # the first id a 32-bit column cannot hold
INT64_MAX = 2**63 - 1  # the largest id any of the databases can hold
BEYOND_IDS = [
    str(INT32_PAST),
    str(2**32),
    str(INT64_MAX),
    str(INT64_MAX + 1),
    str(2**64),
    "9" * 40,
    "0" * 30 + str(INT32_PAST),
]


@pytest.mark.parametrize("text", TEXTS_WITH_NUL)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="detected"),
        pytest.param({"at": "2026-11-27T10:00:00Z"}, id="detected-at"),
        pytest.param({"starts_at": "2026-11-27T10:00:00Z"}, id="explicit"),
    ],
)
def test_a_title_with_nul_is_400(local: Client, body: dict[str, str], text: str) -> None:
    assert_error(local.post("/meetings", json={**body, "title": text}), 400)
    # Nothing was half-made: a clean title still makes the meeting.
    assert local.post("/meetings", json={**body, "title": "Clean"}).status_code == 201


@pytest.mark.parametrize("text", TEXTS_WITH_NUL)
def test_a_participant_id_with_nul_is_400(local: Client, text: str) -> None:
    assert_error(local.post("/visit", json={"participant_id": text}), 400)
    assert_error(
        local.post("/users/status", json={"status": "engaged", "participant_id": text}), 400
    )


def test_nul_anywhere_else_in_a_body_is_400(local: Client) -> None:
    assert_error(local.post("/users/status", json={"status": f"engaged{NUL}"}), 400)
    assert_error(local.post("/meetings", json={"at": f"2026-11-27T10:00:00Z{NUL}"}), 400)
    assert_error(local.post("/meetings", json={"starts_at": f"{NUL}2026-11-27T10:00:00Z"}), 400)
    assert_error(local.post("/meetings", json={f"title{NUL}": "x"}), 400)


def test_a_rename_to_a_title_with_nul_is_400_and_keeps_the_old_one(local: Client) -> None:
    created = local.post("/meetings", json={"title": "Planning"})
    assert created.status_code == 201
    meeting_id = created.json()["id"]
    assert_error(local.patch(f"/meetings/{meeting_id}", json={"title": f"Pla{NUL}nning"}), 400)
    assert local.get(f"/meetings/{meeting_id}").json()["title"] == "Planning"


def test_a_room_key_with_nul_is_refused_cleanly(client_from: ClientFactory) -> None:
    lan = client_from(LAN_ADDRESS)
    wrong = lan.get("/meetings", headers={"Authorization": "Bearer room-key\x00-for-tests"})
    assert wrong.status_code in {400, 401, 403}, wrong.text
    assert "Traceback" not in wrong.text
    joined = lan.get("/", params={"key": f"room-key{NUL}"})
    assert joined.status_code in {400, 401, 403}, joined.text


def test_a_room_slug_with_nul_is_404(local: Client) -> None:
    assert_error(local.get("/rooms/team%00a/meetings"), 404)
    assert_error(local.post("/rooms/%00/users/status", json={"status": "engaged"}), 404)


@pytest.mark.parametrize("meeting_id", BEYOND_IDS)
@pytest.mark.parametrize("prefix", ["", "/rooms/default"])
def test_ids_beyond_any_meeting_are_404(local: Client, prefix: str, meeting_id: str) -> None:
    local.post("/meetings")  # a meeting exists: the id is looked up, not an empty table
    path = f"{prefix}/meetings/{meeting_id}"
    assert_error(local.get(path), 404)
    assert_error(local.patch(path, json={"title": "Renamed"}), 404)
    assert_error(local.post(f"{path}/end"), 404)
    assert_error(local.delete(path), 404)


@pytest.mark.parametrize("page", [INT32_PAST, 2**40, 10**15])
def test_a_page_far_past_the_end_is_empty(local: Client, page: int) -> None:
    local.post("/meetings")
    answer = local.get("/meetings", params={"page": page})
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == []


@pytest.mark.parametrize("page", [str(10**15 + 1), str(2**63), "9" * 40])
def test_a_page_beyond_the_limit_is_400(local: Client, page: str) -> None:
    assert_error(local.get("/meetings", params={"page": page}), 400)
