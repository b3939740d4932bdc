"""Every error a client can cause: JSON `{"status_code", "detail"}`, never a 500."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from mudameter_desktop.api.gate import ASGIApp
from mudameter_desktop.services.meter import MeterService

Client = TestClient[ASGIApp]


def assert_error(answer: object, status: int) -> dict[str, object]:
    from httpx import Response

    assert isinstance(answer, Response)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["status_code"] == status
    assert isinstance(body["detail"], str)
    assert "Traceback" not in answer.text
    return dict(body)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "Engaged"},  # statuses are lowercase exactly
        {"status": "bored"},
        {"status": ""},
        {"status": 1},
        {"status": None},
        {},
        {"status": "engaged", "participant_id": 42},
        {"status": "engaged", "participant_id": ["a"]},
        {"status": "engaged", "participant_id": "x" * 65},
        {"status": "engaged", "extra": True},
    ],
)
def test_bad_status_requests(local: Client, body: dict[str, object]) -> None:
    assert_error(local.post("/users/status", json=body), 400)


def test_participant_id_of_64_characters_is_fine(local: Client) -> None:
    answer = local.post("/users/status", json={"status": "engaged", "participant_id": "x" * 64})
    assert answer.status_code == 200
    assert answer.json()["participant_id"] != "x" * 64


@pytest.mark.parametrize(
    "body",
    [
        {"at": "2026-11-27T10:00:00"},  # naive
        {"at": 1764237600},  # numeric
        {"at": 1764237600.5},
        {"at": "tomorrow"},
        {"at": "2026-11-27"},
        {"at": "9999-01-01T00:00:00Z"},
        {"at": "9998-12-31T23:30:00-05:00"},  # the year 9999 in UTC
        {"at": "10000-01-01T00:00:00Z"},
        {"starts_at": "2026-11-27T10:00:00"},
        {"starts_at": 0},
        {"starts_at": "9999-12-31T23:00:00Z"},
        {"duration_minutes": 30},  # needs starts_at
        {"starts_at": "2026-11-27T10:00:00Z", "duration_minutes": 0},
        {"starts_at": "2026-11-27T10:00:00Z", "duration_minutes": 1441},
        {"starts_at": "2026-11-27T10:00:00Z", "duration_minutes": "long"},
        {"starts_at": "2026-11-27T10:00:00Z", "duration_minutes": True},
        {"at": "2026-11-27T10:00:00Z", "starts_at": "2026-11-27T10:00:00Z"},
        {"title": ""},
        {"title": "x" * 201},
        {"title": 7},
        {"where": "here"},
    ],
)
def test_bad_meeting_requests(local: Client, body: dict[str, object]) -> None:
    assert_error(local.post("/meetings", json=body), 400)


def test_limits_that_are_fine(local: Client) -> None:
    ok = {
        "starts_at": "9998-12-30T00:00:00Z",
        "duration_minutes": 1440,
        "title": "x" * 200,
    }
    assert local.post("/meetings", json=ok).status_code == 201
    assert local.post("/meetings", json={"at": "0001-01-01T12:00:00Z"}).status_code in {200, 201}


@pytest.mark.parametrize(
    "body", [b"{", b"nope", b"[]", b'"text"', b"42", b'{"status": "engaged",}']
)
def test_malformed_json(local: Client, body: bytes) -> None:
    headers = {"content-type": "application/json"}
    assert_error(local.post("/users/status", content=body, headers=headers), 400)
    if body not in {b"[]", b'"text"', b"42"}:
        assert_error(local.post("/visit", content=body, headers=headers), 400)


def test_body_that_is_not_utf8(local: Client) -> None:
    body = b'{"status": "engaged", "participant_id": "\xff\xfe"}'
    assert_error(local.post("/users/status", content=body), 400)


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_json_nested_too_deep(local: Client, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    body = f'{{"status": "engaged", "participant_id": {nested}}}'.encode()
    if len(body) <= 16_384:
        detail = assert_error(local.post("/users/status", content=body), 400)["detail"]
        assert "deep" in str(detail)
    else:
        assert_error(local.post("/users/status", content=body), 413)
    assert_error(local.post("/visit", content=b"{" * 5000), 400)


def test_json_nested_32_deep_is_a_plain_field_error(local: Client) -> None:
    nested = "[" * 31 + "]" * 31
    answer = local.post("/users/status", content=f'{{"status": {nested}}}'.encode())
    assert "deep" not in str(assert_error(answer, 400)["detail"])


def test_brackets_inside_strings_do_not_count(local: Client) -> None:
    answer = local.post("/meetings", json={"at": "2026-11-27T10:00:00Z", "title": "[" * 100})
    assert answer.status_code == 201


def test_body_over_16_kib(local: Client) -> None:
    padding = "x" * 16_384
    body = json.dumps({"status": "engaged", "participant_id": padding}).encode()
    assert_error(local.post("/users/status", content=body), 413)
    just_fits = b" " * (16_384 - 20) + b'{"status":"engaged"}'
    assert len(just_fits) == 16_384
    assert local.post("/users/status", content=just_fits).status_code == 200


def test_chunked_body_over_16_kib(local: Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"status": "engaged", "participant_id": "'
        for _ in range(20):
            yield b"x" * 1024
        yield b'"}'

    answer = local.post("/users/status", content=chunks())
    assert "content-length" not in answer.request.headers
    assert_error(answer, 413)


@pytest.mark.parametrize(
    "path", ["/meetings/abc", "/meetings/0", "/meetings/000", "/meetings/-1", "/meetings/1.5"]
)
def test_non_positive_integer_ids(local: Client, path: str) -> None:
    assert_error(local.get(path), 400)


@pytest.mark.parametrize(
    "path",
    [
        "/meetings/1",
        "/meetings/0001",
        "/meetings/9223372036854775807",
        "/meetings/9223372036854775808",
        "/meetings/" + "9" * 40,
        "/meetings/" + "9" * 5000,
    ],
)
def test_unknown_meeting(local: Client, path: str) -> None:
    assert_error(local.get(path), 404)


@pytest.mark.parametrize("page", ["0", "-1", "x", "", "1000000000000000000000", "9" * 5000])
def test_bad_pages(local: Client, page: str) -> None:
    assert_error(local.get("/meetings", params={"page": page}), 400)


def test_unknown_path_and_method(local: Client) -> None:
    assert_error(local.get("/nothing-here"), 404)
    assert_error(local.put("/meetings/1"), 405)  # GET, PATCH and DELETE exist


def test_a_real_bug_is_a_bare_500_and_logged(
    local: Client,
    service: MeterService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service.history, "list_meetings", broken)
    with caplog.at_level(logging.ERROR):
        answer = local.get("/meetings")
    assert answer.json() == {"status_code": 500, "detail": "Internal server error"}
    assert "secret internals" not in answer.text
    assert "secret internals" in caplog.text


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_bodies_that_are_not_json_are_415(local: Client, content_type: str) -> None:
    body = b'{"status": "engaged"}'
    answer = local.post("/users/status", content=body, headers={"content-type": content_type})
    assert_error(answer, 415)
    assert local.get("/meetings").json()["total"] == 0  # nothing was recorded


def test_json_media_types_are_accepted(local: Client) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        answer = local.post(
            "/users/status",
            content=b'{"status": "engaged"}',
            headers={"content-type": content_type},
        )
        assert answer.status_code == 200


def test_a_bodyless_post_needs_no_content_type(local: Client) -> None:
    assert local.post("/meetings").status_code == 201
    assert local.post("/visit").status_code == 200


def test_writes_from_another_site_are_403(local: Client) -> None:
    for origin in ("http://evil.example", "null", "http://127.0.0.1:9999"):
        answer = local.post("/users/status", json={"status": "engaged"}, headers={"origin": origin})
        assert_error(answer, 403)
    own = local.post(
        "/users/status", json={"status": "engaged"}, headers={"origin": "http://127.0.0.1:8765"}
    )
    assert own.status_code == 200
    assert local.get("/meetings", headers={"origin": "http://evil.example"}).status_code == 200


def test_odd_headers_never_break_the_gate(app: ASGIApp) -> None:
    """Headers no HTTP parser in front would let through still get a 4xx, not a 500."""
    import anyio

    async def call(headers: list[tuple[bytes, bytes]], body: bytes) -> int:
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/visit",
            "raw_path": b"/visit",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1:8765"), *headers],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8765),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        await app(scope, receive, send)  # type: ignore[arg-type]
        return int(sent[0]["status"])  # type: ignore[call-overload]

    cases = [
        ([(b"origin", b"http://[unclosed")], b"{}", 403),
        ([(b"content-length", b"9" * 5000)], b"{}", 413),
        ([(b"content-length", b"000000000000000000002")], b"{}", 200),
        ([(b"content-length", "²".encode("latin-1"))], b"{}", 400),  # Litestar refuses it
    ]
    for headers, body, status in cases:
        assert anyio.run(call, headers, body) == status, headers
