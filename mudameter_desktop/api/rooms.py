"""Rooms over HTTP: which room a path addresses, its service, its secrets (SPEC §7).

`/rooms/{slug}/…` addresses the room `slug`; the seed's paths without a
prefix address the room `default`. One set of handlers serves both: it is
mounted twice (`room_routers`), and the `service` it is given is the room's,
which the gate resolved once per request (`RoomRegistry.lookup`) and left in
the scope (`room_of`).

The registry is per process. A room's service is made on first use and kept
(its zone is the room's, or the host's; only `default` has the calendar);
its record (secrets, zone) is read again after `RECORD_TTL_S`, so a key
renewed by `mudameter rooms new-key` in another process is honoured within
seconds with one indexed read per room and period, not one per request.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from copy import copy
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import Request, Router
from litestar.handlers import HTTPRouteHandler
from sqlalchemy import Engine

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.services.errors import NotFoundError
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.services.rooms import DEFAULT_SLUG, RoomDirectory, RoomRecord

ROOMS_PREFIX = "/rooms/"
ROOM_PATH = "/rooms/{room_slug:str}"  # the mount of the room-relative handlers
ROOM_SCOPE_KEY = "mudameter.room"
RECORD_TTL_S = 2.0  # how long a room's record (keys, zone) is trusted without a read
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")

Clock = Callable[[], float]


def split_room_path(path: str) -> tuple[str | None, str]:
    """(slug, the path inside the room) for `/rooms/{slug}/…`; (None, path) otherwise.

    `/rooms/team-a` gives ("team-a", ""): the page's address without its slash.
    A slug that no room could have (not `[a-z0-9-]`, over 64 characters) is
    still returned, so that it is a 404 rather than some other page.
    """
    if not path.startswith(ROOMS_PREFIX):
        return None, path
    slug, slash, rest = path[len(ROOMS_PREFIX) :].partition("/")
    if not slug:
        return None, path
    return slug, slash + rest


def in_room(page: str, path: str) -> str:
    """A page's links to `/static/…` made the room's own (`/rooms/{slug}/static/…`), so a
    browser sends them the room's device cookie; unchanged for `default`'s paths."""
    slug, _ = split_room_path(path)
    if slug is None or not _SLUG.fullmatch(slug):
        return page
    return page.replace('"/static/', f'"{ROOMS_PREFIX}{slug}/static/')


@dataclass(frozen=True, slots=True)
class RoomEntry:
    """A room as one process serves it: its record, service and secrets' checkers."""

    record: RoomRecord
    service: MeterService
    access: RoomAccess  # the participant key (and its device tokens)
    host: RoomAccess | None  # the host token (and its host device tokens); None: no host token
    is_default: bool  # the app's own room, also served at the unprefixed paths

    @property
    def prefix(self) -> str:
        """The room's path prefix: "" for the unprefixed paths of `default`."""
        return "" if self.is_default else f"{ROOMS_PREFIX}{self.record.slug}"


@dataclass(slots=True)
class _Cached:
    entry: RoomEntry
    read_at: float


class RoomRegistry:
    """Slug -> `RoomEntry` for one process (thread-safe).

    `default` is the app's own room: its service is the one the app made (with
    the calendar), its participant key the app's `RoomAccess` (the settings'
    key, "New room key", "Require room key") unless the database holds one
    (a team server, `rooms new-key default`), its host token the database's.
    """

    def __init__(
        self,
        default: MeterService,
        access: RoomAccess,
        directory: RoomDirectory,
        engine: Engine,
        *,
        ttl: float = RECORD_TTL_S,
        clock: Clock = time.monotonic,
    ) -> None:
        self._default = default
        self._access = access
        self._directory = directory
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Cached] = {}
        self._services: dict[int, MeterService] = {default.room_id: default}
        # (room, participant key or not, secret) -> its checker
        self._secrets: dict[tuple[int, bool, str], RoomAccess] = {}

    def cached(self, slug: str | None) -> RoomEntry | None:
        """The room's entry if read within the TTL (no database), else None."""
        key = slug or DEFAULT_SLUG
        with self._lock:
            cached = self._entries.get(key)
            if cached is None or self._clock() - cached.read_at >= self._ttl:
                return None
            return cached.entry

    def last_known(self, slug: str | None) -> RoomEntry | None:
        """The room's entry as last read, however long ago (the database is unreachable)."""
        with self._lock:
            cached = self._entries.get(slug or DEFAULT_SLUG)
            return cached.entry if cached is not None else None

    def lookup(self, slug: str | None) -> RoomEntry | None:
        """The room at `slug` (None: `default`), read again if its record is stale;
        None when there is no such room. Blocking: may read the database."""
        fresh = self.cached(slug)
        if fresh is not None:
            return fresh
        key = slug or DEFAULT_SLUG
        if not _SLUG.fullmatch(key):
            return None
        try:
            record = self._directory.get(key)
        except NotFoundError:
            with self._lock:
                self._entries.pop(key, None)
            return None
        with self._lock:
            entry = self._entry(record)
            self._entries[key] = _Cached(entry, self._clock())
            return entry

    def _entry(self, record: RoomRecord) -> RoomEntry:
        is_default = record.id == self._default.room_id
        if is_default and not record.participant_key:
            access = self._access
        else:
            access = self._checker(record.id, record.participant_key, participant=True)
        host = (
            self._checker(record.id, record.host_token, participant=False)
            if record.host_token
            else None
        )
        return RoomEntry(record, self._service(record), access, host, is_default)

    def _checker(self, room_id: int, secret: str | None, *, participant: bool) -> RoomAccess:
        """One `RoomAccess` per room and secret, kept while the secret is: its device
        tokens stay valid across reads; a new secret is a new checker (old tokens fail)."""
        if not secret:  # a room without a participant key: no key opens it
            secret = secrets.token_urlsafe(32)
        key = (room_id, participant, secret)
        checker = self._secrets.get(key)
        if checker is None:
            for known in [known for known in self._secrets if known[:2] == key[:2]]:
                del self._secrets[known]
            if participant and room_id == self._default.room_id:
                checker = _FollowingAccess(secret, self._access)
            else:
                checker = RoomAccess(secret)
            self._secrets[key] = checker
        return checker

    def _service(self, record: RoomRecord) -> MeterService:
        service = self._services.get(record.id)
        if service is None:
            service = MeterService(
                self._engine,
                self._zone(record),
                self._default.clock,  # the app's clock (a test's fake one too)
                room_id=record.id,
            )
            self._services[record.id] = service
        return service

    def _zone(self, record: RoomRecord) -> Any:
        if record.timezone:
            try:
                return ZoneInfo(record.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                pass  # a zone this machine lacks: the host's, as for a room without one
        return self._default.zone


class _FollowingAccess(RoomAccess):
    """`default`'s key from the database, with "Require room key" still the app's setting."""

    def __init__(self, key: str, follow: RoomAccess) -> None:
        super().__init__(key)
        self._follow = follow

    @property
    def require_key(self) -> bool:
        return self._follow.require_key

    @require_key.setter
    def require_key(self, value: bool) -> None:
        self._follow.require_key = value


def room_of(scope: Any) -> RoomEntry | None:
    """The room the gate resolved for this request (None without the gate)."""
    entry = scope.get(ROOM_SCOPE_KEY)
    return entry if isinstance(entry, RoomEntry) else None


def room_service(default: MeterService) -> Callable[[Request[Any, Any, Any]], MeterService]:
    """The `service` dependency: the room's, as the gate resolved it; else `default`."""

    def service(request: Request[Any, Any, Any]) -> MeterService:
        entry = room_of(request.scope)
        return entry.service if entry is not None else default

    return service


def room_routers(
    handlers: Sequence[HTTPRouteHandler], options: Sequence[HTTPRouteHandler], prefix: str
) -> list[Router]:
    """The same handlers at `/` (the room `default`) and at `/rooms/{slug}` (any room).

    The room mount's copies have their own OpenAPI operation ids (`prefix` +
    the id: "roomVisit"), as the document wants each id once.
    """
    in_rooms = [_renamed(handler, prefix) for handler in handlers]
    return [
        Router("/", route_handlers=[*options, *handlers]),
        Router(ROOM_PATH, route_handlers=[*options, *in_rooms]),
    ]


def _renamed(handler: HTTPRouteHandler, prefix: str) -> HTTPRouteHandler:
    if not isinstance(handler.operation_id, str):
        return handler
    renamed = copy(handler)
    renamed.operation_id = prefix + handler.operation_id[:1].upper() + handler.operation_id[1:]
    return renamed
