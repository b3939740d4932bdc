"""ASGI middleware in front of the app: LAN access, rate limit, body limits.

It runs before Litestar parses anything, so a refused request costs little,
a chunked body is cut off at the limit, and no JSON the decoder could choke
on (too deep, not UTF-8) ever reaches it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from mudameter_desktop.api.access import (
    RoomAccess,
    is_loopback_address,
    is_loopback_host_header,
)
from mudameter_desktop.api.limits import MAX_BODY_BYTES, RateLimiter, json_too_deep

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KEY_COOKIE = "mudameter_key"
KEY_COOKIE_MAX_AGE = 365 * 24 * 3600  # joined phones keep working for a year
# Answered without a key: they hold no data. join.js runs on the "needs its key"
# page: a join link followed from another site's page (webmail, a chat) arrives
# without the SameSite=Strict cookie, which the page's own requests do carry.
OPEN_PATHS = frozenset({"/health", "/static/join.js"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_JOIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Muda Meter</title>
<style>body{{font-family:system-ui,sans-serif;max-width:30em;margin:3em auto;padding:0 1em;
line-height:1.5}}</style>
<script src="/static/join.js" defer></script></head>
<body><h1>Muda Meter</h1><p>{message}</p></body></html>
"""
_MISSING_KEY_PAGE = _JOIN_PAGE.format(
    message="This room needs its key. Ask the host for the join link, "
    "or scan the QR code shown in their Muda Meter."
)
_WRONG_KEY_PAGE = _JOIN_PAGE.format(
    message="This room key is no longer valid. Ask the host for the new join link, "
    "or scan the QR code again."
)


class Gate:
    """Wraps an ASGI app with the LAN rules of the room and the request limits."""

    def __init__(
        self, app: ASGIApp, access: RoomAccess, limiter: RateLimiter | None = None
    ) -> None:
        self._app = app
        self._access = access
        self._limiter = limiter or RateLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = _headers(scope)
        client = scope.get("client")
        address = client[0] if client else ""
        if not (is_loopback_address(address) and is_loopback_host_header(headers.get("host"))):
            retry_after = self._limiter.retry_after(address)
            if retry_after is not None:
                await _send_json(
                    send, 429, "Too many requests", [(b"retry-after", str(retry_after).encode())]
                )
                return
            if not await self._admit(scope, headers, send):
                return
        if scope["method"] not in SAFE_METHODS and _cross_site(headers):
            # A page from another site in this machine's browser (no key needed on
            # loopback) must not click for the user: browsers always send Origin.
            await _send_json(send, 403, "Cross-site request refused")
            return
        body = await _read_body(headers, receive, send)
        if body is None:
            return
        await self._app(scope, _replay(body, receive), send)

    async def _admit(self, scope: Scope, headers: dict[str, str], send: Send) -> bool:
        """Apply the room key to a LAN request; False once a refusal was sent."""
        path = scope["path"]
        if path in OPEN_PATHS or not self._access.require_key:
            return True
        is_page = path == "/" and scope["method"] in {"GET", "HEAD"}
        query_key = _query_key(scope) if is_page else None
        given = query_key or _bearer_key(headers) or _cookie_key(headers)
        if given is None:
            reason, status, page = "missing room key", 401, _MISSING_KEY_PAGE
        elif not self._access.accepts(given):
            reason, status, page = "wrong room key", 403, _WRONG_KEY_PAGE
        elif query_key is not None:
            await _send_joined(send, query_key)
            return False
        else:
            return True
        log.info("Refused %s %s from %s: %s", scope["method"], path, scope.get("client"), reason)
        if is_page:
            await _send(send, status, page.encode(), b"text/html; charset=utf-8")
        else:
            await _send_json(send, status, reason.capitalize())
        return False


def _headers(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }


def _cross_site(headers: dict[str, str]) -> bool:
    """Whether a browser sent the request from a page of another origin."""
    origin = headers.get("origin")
    if origin is None:
        return False  # not a browser, or a same-origin GET
    try:
        netloc = urlsplit(origin).netloc if origin != "null" else ""
    except ValueError:  # e.g. an unclosed IPv6 bracket: no origin of ours
        return True
    return netloc.lower() != headers.get("host", "").lower()


def _query_key(scope: Scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("key")
    return values[0] if values and values[0] else None


def _bearer_key(headers: dict[str, str]) -> str | None:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def _cookie_key(headers: dict[str, str]) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == KEY_COOKIE and value:
            return unquote(value)
    return None


async def _read_body(headers: dict[str, str], receive: Receive, send: Send) -> bytes | None:
    """The whole body if it is within the limits; None once a refusal was sent."""
    if _declared_too_long(headers):
        await _send_json(send, 413, f"Request body is over {MAX_BODY_BYTES} bytes")
        return None
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:  # chunked bodies declare no length
            await _send_json(send, 413, f"Request body is over {MAX_BODY_BYTES} bytes")
            return None
        if not message.get("more_body", False):
            break
    refusal = _refusal(headers, body) if body else None
    if refusal is not None:
        await _send_json(send, *refusal)
        return None
    return bytes(body)


def _refusal(headers: dict[str, str], body: bytearray) -> tuple[int, str] | None:
    """Why a body the app must not see is refused (status, detail), or None."""
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type and not (media_type == "application/json" or media_type.endswith("+json")):
        # text/plain and forms are what a cross-site form or script sends without asking
        return 415, "Request body must be application/json"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "Request body is not UTF-8 JSON"
    if json_too_deep(body):
        return 400, "JSON is nested too deeply"
    return None


def _declared_too_long(headers: dict[str, str]) -> bool:
    """Whether Content-Length is over the limit (read as text: no int() of 5000 digits)."""
    declared = headers.get("content-length", "").strip()
    if not (declared.isascii() and declared.isdigit()):
        return False  # none (chunked) or malformed: the byte count while reading decides
    digits = declared.lstrip("0") or "0"
    return len(digits) > len(str(MAX_BODY_BYTES)) or int(digits) > MAX_BODY_BYTES


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then the real stream."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_joined(send: Send, key: str) -> None:
    """Keep the key in a cookie and drop it from the address bar."""
    cookie = (
        f"{KEY_COOKIE}={quote(key, safe='')}; Max-Age={KEY_COOKIE_MAX_AGE}; "
        "Path=/; HttpOnly; SameSite=Strict"
    )
    await _send(
        send,
        303,
        b"",
        b"text/plain; charset=utf-8",
        [(b"location", b"/"), (b"set-cookie", cookie.encode("latin-1"))],
    )


async def _send_json(
    send: Send, status: int, detail: str, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"status_code": status, "detail": detail}).encode()
    await _send(send, status, body, b"application/json", extra_headers)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
