"""ASGI middleware in front of the app: LAN access, rate limit, body limits.

It runs before Litestar parses anything, so a refused request costs little,
a chunked body is cut off at the limit, and no JSON the decoder could choke
on (too deep, not UTF-8) ever reaches it.

Who is asking is decided here once and handed to the handlers in the scope
(`caller_of`): the host (loopback, with a loopback `Host`) or a LAN client
and its address.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread
from sqlalchemy.exc import SQLAlchemyError

from mudameter_desktop.api.access import (
    DEVICE_TOKEN_LIFETIME,
    RoomAccess,
    is_loopback_host_header,
    is_own_host_header,
)
from mudameter_desktop.api.limits import MAX_BODY_BYTES, RateLimiter, is_forwarded, json_too_deep
from mudameter_desktop.api.rooms import (
    ROOM_SCOPE_KEY,
    RoomEntry,
    RoomRegistry,
    in_room,
    split_room_path,
)
from mudameter_desktop.api.web import SECURITY_HEADERS
from mudameter_desktop.hosts import is_loopback_address

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Clock = Callable[[], float]

DEVICE_COOKIE = "mudameter_device"  # a device token, never the key itself
HOST_COOKIE = "mudameter_host"  # a device token of a room's host token (`_cookie_name`)
JOIN_PATH = "/join"
MAX_KEY_LENGTH = 256  # longer is no key of ours: refused before comparing
# Answered without a key: they hold no data. join.js and the style run on the
# "needs its key" page, which trades a join link's key for a device cookie.
OPEN_PATHS = frozenset({"/health", "/static/join.js", "/static/style.css"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRONG_KEY_BUDGET = 60  # wrong keys per window, all addresses together
WRONG_KEY_WINDOW = 60.0  # seconds
PROVEN_FOR = 24 * 3600.0  # an address that showed the right key is exempt from the budget this long
REFUSAL_SUMMARY_EVERY = 60.0  # seconds between two summary lines of refusals
MAX_COUNTED_ADDRESSES = 1000  # distinct addresses counted per summary (memory bound)
CALLER_SCOPE_KEY = "mudameter.caller"

_JOIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Muda Meter</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/style.css">
<script src="/static/join.js" defer></script></head>
<body><main><h1>Muda Meter</h1><p id="join-message">{message}</p></main></body></html>
"""
_MISSING_KEY_PAGE = _JOIN_PAGE.format(
    message="This room needs its key. Ask the host for the join link, "
    "or scan the QR code shown in their Muda Meter."
)
_WRONG_KEY_PAGE = _JOIN_PAGE.format(
    message="This room key is no longer valid. Ask the host for the new join link, "
    "or scan the QR code again."
)
_BUSY_PAGE = _JOIN_PAGE.format(
    message="Too many wrong room keys were tried just now. Wait a minute, then open "
    "the join link again."
)
_FOREIGN_HOST_PAGE = _JOIN_PAGE.format(
    message="This server does not answer to that name. Open the join link the host shared."
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: the host (this machine's own user) or a LAN client."""

    is_host: bool
    address: str | None  # the LAN client's address; None for the host


def caller_of(scope: Scope) -> Caller:
    """The caller the gate recorded; without the gate, a LAN client (least trust)."""
    caller = scope.get(CALLER_SCOPE_KEY)
    if isinstance(caller, Caller):
        return caller
    client = scope.get("client")
    return Caller(is_host=False, address=str(client[0]) if client else "")


class GuessBudget:
    """A global sliding window of wrong room keys, whatever address sent them.

    The rate limit is per address; a guesser spread over many addresses is
    slowed by this one. Once spent, no key is checked for anyone who has not
    shown the right key before (a right key answered 200 while wrong ones get
    429 would let guessing go on), until the window has room again.
    """

    def __init__(
        self,
        limit: int = WRONG_KEY_BUDGET,
        window: float = WRONG_KEY_WINDOW,
        clock: Clock = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._wrong: deque[float] = deque(maxlen=limit)
        self._proven: dict[str, float] = {}  # address -> when it last showed the right key
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """None if a key from `address` may be checked now, else the seconds to wait."""
        now = self._clock()
        with self._lock:
            proven = self._proven.get(address)
            if proven is not None and now - proven < PROVEN_FOR:
                return None
            if len(self._wrong) < self._limit:
                return None
            waited = now - self._wrong[0]
            if waited >= self._window:
                return None
            return max(1, math.ceil(self._window - waited))

    def wrong(self) -> None:
        with self._lock:
            self._wrong.append(self._clock())

    def right(self, address: str) -> None:
        with self._lock:
            self._proven[address] = self._clock()
            if len(self._proven) > 4 * self._limit:  # bounded: forget the oldest half
                keep = sorted(self._proven.items(), key=lambda item: item[1])[2 * self._limit :]
                self._proven = dict(keep)


class RefusalLog:
    """Refusals in summary: the first of a period on its own line, then one line of counts.

    A guesser's thousands of refusals must not rotate the log away (nor fill
    the disk); the first line says at once that someone is being refused.
    """

    def __init__(self, every: float = REFUSAL_SUMMARY_EVERY, clock: Clock = time.monotonic):
        self._every = every
        self._clock = clock
        self._lock = threading.Lock()
        self._period_end: float | None = None
        self._reasons: Counter[str] = Counter()
        self._addresses: set[str] = set()

    def refused(self, method: str, path: str, address: str, reason: str) -> None:
        now = self._clock()
        with self._lock:
            self._flush(now)
            if self._period_end is None:
                self._period_end = now + self._every
                log.info(
                    "Refused %s %s from %s: %s (further refusals are counted and summarised)",
                    method,
                    path[:80],
                    address or "?",
                    reason,
                )
                return
            self._reasons[reason] += 1
            if len(self._addresses) < MAX_COUNTED_ADDRESSES:
                self._addresses.add(address)

    def flush_due(self) -> None:
        """Write the summary of a period that has ended (called on every request)."""
        if self._period_end is None or self._clock() < self._period_end:
            return
        with self._lock:
            self._flush(self._clock())

    def _flush(self, now: float) -> None:
        if self._period_end is None or now < self._period_end:
            return
        if self._reasons:
            counts = ", ".join(f"{reason}: {n}" for reason, n in self._reasons.most_common())
            log.info(
                "Refused %d more requests from %d addresses in the last %d s: %s",
                sum(self._reasons.values()),
                len(self._addresses),
                round(self._every),
                counts,
            )
        self._period_end = None
        self._reasons.clear()
        self._addresses.clear()


@dataclass(frozen=True, slots=True)
class _Refusal:
    status: int
    reason: str
    page: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class _Admitted:
    is_host: bool  # showed the room's host token (or its host device cookie)
    cookie: bytes | None = None  # a device cookie to set (a new or renewed token)


class Gate:
    """Wraps an ASGI app with the rules of each room (SPEC §3, §7) and the request limits.

    `trust_loopback`: this machine's own user is every room's host (the desktop
    app). A team server trusts no address (behind a reverse proxy on the same
    machine every client would look local): only a room's host token makes a host.
    """

    def __init__(
        self,
        app: ASGIApp,
        rooms: RoomRegistry,
        limiter: RateLimiter | None = None,
        budget: GuessBudget | None = None,
        refusals: RefusalLog | None = None,
        *,
        trust_loopback: bool = True,
    ) -> None:
        self._app = app
        self._rooms = rooms
        self._trust_loopback = trust_loopback
        self._limiter = limiter or RateLimiter()
        self._budget = budget or GuessBudget()
        self._refusals = refusals or RefusalLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        send = _secured(send)
        self._refusals.flush_due()
        headers = _headers(scope)
        client = scope.get("client")
        address = str(client[0]) if client else ""
        is_host = self._trust_loopback and _is_host(scope, address, headers)
        room = await self._room(scope, send, address, limited=not is_host)
        if room is None:
            return
        cookie: bytes | None = None
        if not is_host:
            admitted = self._admit(scope, headers, address, room)
            if isinstance(admitted, _Refusal):
                await self._refuse(scope, send, address, admitted)
                return
            is_host, cookie = admitted.is_host, admitted.cookie
        scope[CALLER_SCOPE_KEY] = Caller(is_host, None if is_host else address)
        scope[ROOM_SCOPE_KEY] = room
        if scope["method"] not in SAFE_METHODS and _cross_site(headers):
            # A page from another site in this machine's browser (no key needed on
            # loopback) must not click for the user: browsers always send Origin.
            refusal = _Refusal(403, "cross-site request", "")
            await self._refuse(scope, send, address, refusal, is_page=False)
            return
        body = await _read_body(headers, receive, send)
        if body is None:
            return
        if _room_path(scope) == JOIN_PATH and scope["method"] == "POST":
            await self._join(scope, headers, body, address, send, room=room)
            return
        extra = [(b"set-cookie", cookie)] if cookie else []
        await self._app(scope, _replay(body, receive), _with_headers(send, extra))

    async def _room(
        self, scope: Scope, send: Send, address: str, *, limited: bool
    ) -> RoomEntry | None:
        """The room the path addresses (`/rooms/{slug}/…`, else `default`); None once a
        429 (rate limit), 404, 503, or a redirect to the page's own address was sent."""
        if limited:
            retry_after = self._limiter.retry_after(address)
            if retry_after is not None:
                refusal = _Refusal(429, "too many requests", _BUSY_PAGE, _retry(retry_after))
                await self._refuse(scope, send, address, refusal)
                return None
        slug, rest = split_room_path(scope["path"])
        room = self._rooms.cached(slug)
        if room is None:
            try:
                room = await anyio.to_thread.run_sync(self._rooms.lookup, slug)
            except SQLAlchemyError as error:
                # The room as last read still answers what needs no database (/health).
                room = self._rooms.last_known(slug)
                if room is None:
                    log.warning("Cannot read the rooms: %s", type(error).__name__)
                    await _send_json(send, 503, "The database is unavailable", _retry(1))
                    return None
        if room is None:
            if limited:  # not the host: answered as a room whose key is missing or wrong,
                await self._refuse(scope, send, address, self._no_room(scope))  # not named
            else:
                await _send_json(send, 404, "No such room")
            return None
        if not rest:  # the room's page is `/rooms/{slug}/`: its relative links need the slash
            query = scope.get("query_string", b"")
            location = f"{scope['path']}/".encode() + (b"?" + query if query else b"")
            await _send(send, 308, b"", b"text/plain", [(b"location", location)])
            return None
        return room

    def _no_room(self, scope: Scope) -> _Refusal:
        """What a client who is not the host hears of a room that does not exist: what a
        room whose key it lacks would say, so that slugs cannot be tried for rooms."""
        headers = _headers(scope)
        if _bearer_key(headers) is None and _query_key(scope) is None:
            return _Refusal(401, "missing room key", _MISSING_KEY_PAGE)
        self._budget.wrong()
        return _Refusal(403, "wrong room key", _WRONG_KEY_PAGE)

    def _admit(
        self, scope: Scope, headers: dict[str, str], address: str, room: RoomEntry
    ) -> _Refusal | _Admitted:
        """A request's fate: a refusal, or admitted (as the host or a participant)."""
        path, method = _room_path(scope), scope["method"]
        if path in OPEN_PATHS or (path == JOIN_PATH and method == "POST"):
            return _Admitted(is_host=False)
        if not room.access.require_key:
            if is_own_host_header(headers.get("host")):
                bearer = _bearer_key(headers)
                is_host = bearer is not None and room.host is not None and room.host.accepts(bearer)
                return _Admitted(is_host)
            # DNS rebinding: a page of a domain pointed at this machine could read it all.
            return _Refusal(421, "unknown host name", _FOREIGN_HOST_PAGE)
        return self._admit_with_key(scope, headers, address, room)

    def _admit_with_key(
        self, scope: Scope, headers: dict[str, str], address: str, room: RoomEntry
    ) -> _Refusal | _Admitted:
        """A Bearer key or host token (it decides when sent), a device token, or (on the
        page) an old `/?key=` link (ignored when the device's token is valid: a stale link
        still opens)."""
        path, method = _room_path(scope), scope["method"]
        bearer = _bearer_key(headers)
        if bearer is None:
            held = _held_token(headers, room)
            if held is not None:
                return held
        is_page = path == "/" and method in {"GET", "HEAD"}
        query_key = _query_key(scope) if is_page and bearer is None else None
        given = bearer or query_key
        if given is None:
            if any(_cookie(headers, _cookie_name(room, is_host)) for is_host in (False, True)):
                # a token of an earlier key, or expired
                return _Refusal(403, "device token no longer valid", _WRONG_KEY_PAGE)
            return _Refusal(401, "missing room key", _MISSING_KEY_PAGE)
        checked = self._check_key(given, address, room)
        if isinstance(checked, _Refusal):
            return checked
        if query_key is None:
            return _Admitted(checked)
        # An old `/?key=` link: the page trades the key at once and drops it from the address.
        token = _issuer(room, checked).issue_token()
        return _Admitted(checked, _device_cookie(token, room, checked))

    def _check_key(self, given: str, address: str, room: RoomEntry) -> _Refusal | bool:
        """A refusal, or whether `given` is the room's host token (else its key)."""
        retry_after = self._budget.retry_after(address)
        if retry_after is not None:
            return _Refusal(429, "too many wrong room keys", _BUSY_PAGE, _retry(retry_after))
        if len(given) <= MAX_KEY_LENGTH:
            if room.host is not None and room.host.accepts(given):
                self._budget.right(address)
                return True
            if room.access.accepts(given):
                self._budget.right(address)
                return False
        self._budget.wrong()
        return _Refusal(403, "wrong room key", _WRONG_KEY_PAGE)

    async def _join(
        self,
        scope: Scope,
        headers: dict[str, str],
        body: bytes,
        address: str,
        send: Send,
        *,
        room: RoomEntry,
    ) -> None:
        """`POST /join` (`/rooms/{slug}/join`): trade the room key or its host token (body
        `{"key"}` or Bearer) for a device cookie of that room."""
        given = _bearer_key(headers)
        if given is None and body:
            try:
                document = json.loads(body)
            except ValueError:
                document = None
            value = document.get("key") if isinstance(document, dict) else None
            given = value if isinstance(value, str) and value else None
        if given is None:
            refusal = _Refusal(401, "missing room key", "")
            await self._refuse(scope, send, address, refusal, is_page=False)
            return
        checked = self._check_key(given, address, room)
        if isinstance(checked, _Refusal):
            await self._refuse(scope, send, address, checked, is_page=False)
            return
        cookie = _device_cookie(_issuer(room, checked).issue_token(), room, checked)
        answer: dict[str, object] = {"joined": True, "expires_in": DEVICE_TOKEN_LIFETIME}
        if checked:
            answer["host"] = True
        body = json.dumps(answer).encode()
        await _send(send, 200, body, b"application/json", [(b"set-cookie", cookie)])

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        address: str,
        refusal: _Refusal,
        is_page: bool | None = None,
    ) -> None:
        self._refusals.refused(scope["method"], scope["path"], address, refusal.reason)
        if is_page is None:
            is_page = _room_path(scope) == "/" and scope["method"] in {"GET", "HEAD"}
        if is_page and refusal.page:
            page = in_room(refusal.page, scope["path"]).encode()
            await _send(send, refusal.status, page, b"text/html; charset=utf-8", refusal.headers)
        else:
            detail = refusal.reason[:1].upper() + refusal.reason[1:]
            await _send_json(send, refusal.status, detail, refusal.headers)


def _is_host(scope: Scope, address: str, headers: dict[str, str]) -> bool:
    """This machine's own user: loopback, naming this machine, and not through a proxy
    (behind a reverse proxy on this machine every client would look local)."""
    return (
        is_loopback_address(address)
        and is_loopback_host_header(headers.get("host"))
        and not is_forwarded(scope)
    )


def _retry(seconds: int) -> tuple[tuple[bytes, bytes], ...]:
    return ((b"retry-after", str(seconds).encode()),)


def _room_path(scope: Scope) -> str:
    """The path inside the room (`/rooms/team-a/visit` -> `/visit`)."""
    return split_room_path(scope["path"])[1]


def _issuer(room: RoomEntry, is_host: bool) -> RoomAccess:
    return room.host if is_host and room.host is not None else room.access


def _held_token(headers: dict[str, str], room: RoomEntry) -> _Admitted | None:
    """Admitted by a valid device token of the room (its host's first), else None."""
    for is_host, checker in ((True, room.host), (False, room.access)):
        token = _cookie(headers, _cookie_name(room, is_host)) if checker else None
        expiry = checker.token_expiry(token) if checker and token else None
        if checker is None or expiry is None:
            continue
        # Past half its life a token is renewed: a phone in use is never locked out.
        if not checker.wants_renewal(expiry):
            return _Admitted(is_host)
        return _Admitted(is_host, _device_cookie(checker.issue_token(), room, is_host))
    return None


def _cookie_name(room: RoomEntry, is_host: bool) -> str:
    """Each room's device cookies have names of their own (a browser may join several)."""
    name = HOST_COOKIE if is_host else DEVICE_COOKIE
    return name if room.is_default else f"{name}_{room.record.id}"


def _device_cookie(token: str, room: RoomEntry, is_host: bool = False) -> bytes:
    """The `Set-Cookie` value of a room's device token (a host one for its host token),
    sent by the browser to that room's paths only (`default`: every path)."""
    path = "/" if room.is_default else f"{room.prefix}/"
    return (
        f"{_cookie_name(room, is_host)}={token}; Max-Age={DEVICE_TOKEN_LIFETIME}; "
        f"Path={path}; HttpOnly; SameSite=Strict"
    ).encode("ascii")


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


def _cookie(headers: dict[str, str], name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
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


def _secured(send: Send) -> Send:
    """Every answer, the gate's refusals and Litestar's errors included, carries the
    page's security headers (CSP with `frame-ancestors 'none'`, nosniff, no referrer)."""
    wanted = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]

    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {bytes(name).lower() for name, _ in message.get("headers", [])}
            missing = [(name, value) for name, value in wanted if name not in present]
            if missing:
                message = {**message, "headers": [*message.get("headers", []), *missing]}
        await send(message)

    return secured


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    if not extra:
        return send

    async def with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return with_headers


async def _send_json(
    send: Send,
    status: int,
    detail: str,
    extra_headers: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]] = (),
) -> None:
    body = json.dumps({"status_code": status, "detail": detail}).encode()
    await _send(send, status, body, b"application/json", extra_headers)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra_headers: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]] = (),
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
