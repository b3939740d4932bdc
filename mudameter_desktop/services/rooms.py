"""Rooms of a team server: add, list, remove, new keys, and finding a room by its secret.

A room is one team's meeting space (SPEC §7): its own meetings, time zone,
participant key and host token. The room `default` (id 1, made by migration
0006) is the desktop app's one room; on the desktop its key lives in the app
settings and its secrets here stay NULL, on a team server `ensure_secrets`
gives it some.

Every write is one short Core transaction, so any number of processes may
manage rooms at once: the unique slug decides a race between two of them
adding the same name (the loser takes the next suffix).
"""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from mudameter_desktop.services.errors import InvalidInputError, NotFoundError
from mudameter_desktop.services.meter import utc_now
from mudameter_desktop.settings import RoomKeyError, check_room_key
from mudameter_desktop.store.tables import (
    DEFAULT_ROOM_ID,
    EngagementSample,
    Meeting,
    Participant,
    Room,
    StatusChange,
)

__all__ = [
    "DEFAULT_SLUG",
    "RoomDirectory",
    "RoomRecord",
    "host_link",
    "join_link",
]

DEFAULT_SLUG = "default"  # the room migration 0006 made (id DEFAULT_ROOM_ID)
MAX_NAME_LENGTH = 200  # room.name
MAX_SLUG_LENGTH = 64  # room.slug
MAX_ZONE_LENGTH = 64  # room.timezone
MAX_SECRET_LENGTH = 128  # room.participant_key, room.host_token
# A slug's base is cut so that "-NNNN" still fits; a name of no ASCII letter or digit
# (say, all Cyrillic) gets this one.
SLUG_BASE_LENGTH = 48
FALLBACK_SLUG = "room"
# 24 random bytes: a 32-character key, over the app's 22-character minimum (128 bits).
PARTICIPANT_KEY_BYTES = 24
HOST_TOKEN_BYTES = 32
# Two processes adding the same name at once each lose a race at most once per
# other process; this many tries means something else is wrong.
MAX_SLUG_TRIES = 50

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class RoomRecord:
    id: int
    slug: str
    name: str
    timezone: str | None  # None: the host's zone
    participant_key: str | None  # None for `default` on the desktop (its key is in the settings)
    host_token: str | None


_COLUMNS = (
    Room.id,
    Room.slug,
    Room.name,
    Room.timezone,
    Room.participant_key,
    Room.host_token,
)


def _record(row: Any) -> RoomRecord:
    return RoomRecord(
        id=row.id,
        slug=row.slug,
        name=row.name,
        timezone=row.timezone,
        participant_key=row.participant_key,
        host_token=row.host_token,
    )


class RoomDirectory:
    """The rooms in one database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    # Reading

    def rooms(self) -> list[RoomRecord]:
        """Every room, `default` included, by id."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(*_COLUMNS).order_by(Room.id)).all()
        return [_record(row) for row in rows]

    def get(self, slug: str) -> RoomRecord:
        """The room with this slug; `NotFoundError` if there is none."""
        with self._engine.connect() as connection:
            row = connection.execute(select(*_COLUMNS).where(Room.slug == slug)).first()
        if row is None:
            raise NotFoundError(f"no room {slug!r}")
        return _record(row)

    def get_by_id(self, room_id: int) -> RoomRecord:
        with self._engine.connect() as connection:
            row = connection.execute(select(*_COLUMNS).where(Room.id == room_id)).first()
        if row is None:
            raise NotFoundError(f"no room with id {room_id}")
        return _record(row)

    def find_by_secret(self, secret: str) -> tuple[RoomRecord, bool] | None:
        """The room whose participant key or host token `secret` is, and whether it is
        the host token; None when it is neither.

        Every secret of every room is compared in constant time, and the loop never
        stops early, so the time taken says nothing about how close a guess was.
        """
        given = secret.encode("utf-8", "surrogatepass")
        found: tuple[RoomRecord, bool] | None = None
        for room in self.rooms():
            for stored, is_host in ((room.participant_key, False), (room.host_token, True)):
                if stored is not None and hmac.compare_digest(given, stored.encode("utf-8")):
                    found = (room, is_host)
        return found

    # Writing

    def add(self, name: str, timezone: str | None = None) -> RoomRecord:
        """A new room with fresh secrets; its slug comes from the name ('Team A' ->
        'team-a', then 'team-a-2', …). `InvalidInputError` for a bad name or zone."""
        name = _check_name(name)
        timezone = _check_zone(timezone)
        base = slug_base(name)
        participant_key = _new_participant_key()
        host_token = _new_host_token()
        for _attempt in range(MAX_SLUG_TRIES):
            slug = self._free_slug(base)
            try:
                with self._engine.begin() as connection:
                    room_id = connection.execute(
                        insert(Room)
                        .values(
                            slug=slug,
                            name=name,
                            timezone=timezone,
                            participant_key=participant_key,
                            host_token=host_token,
                            created_at=self._clock(),
                            version=0,
                        )
                        .returning(Room.id)
                    ).scalar_one()
            except IntegrityError:
                continue  # another process took this slug just now: the next suffix
            return RoomRecord(room_id, slug, name, timezone, participant_key, host_token)
        raise RuntimeError(f"could not find a free slug for {name!r} in {MAX_SLUG_TRIES} tries")

    def remove(self, slug: str) -> None:
        """Delete the room and all its meetings. `default` cannot be removed
        (`InvalidInputError`); an unknown slug is `NotFoundError`."""
        if slug == DEFAULT_SLUG:
            raise InvalidInputError("the room 'default' cannot be removed")
        with self._engine.begin() as connection:
            room_id = connection.execute(
                select(Room.id).where(Room.slug == slug).with_for_update()
            ).scalar()
            if room_id is None or room_id == DEFAULT_ROOM_ID:
                raise NotFoundError(f"no room {slug!r}")
            # Explicitly, child tables first: the foreign keys cascade too, but an
            # engine made elsewhere may have SQLite's foreign keys off.
            meetings = select(Meeting.id).where(Meeting.room_id == room_id).scalar_subquery()
            for child in (EngagementSample, StatusChange, Participant):
                connection.execute(delete(child).where(child.meeting_id.in_(meetings)))
            connection.execute(delete(Meeting).where(Meeting.room_id == room_id))
            connection.execute(delete(Room).where(Room.id == room_id))

    def new_key(self, slug: str) -> RoomRecord:
        """A new participant key (the old one stops working); the host token stays."""
        return self._set_secrets(slug, participant_key=_new_participant_key())

    def ensure_secrets(self, slug: str, participant_key: str | None = None) -> RoomRecord:
        """Make the room usable on a team server (for `default`, whose secrets the
        desktop keeps in its settings): the given participant key (`--room-key`,
        checked like the app's keys) or a new one if it has none, and a host token
        if it has none. Secrets it already has are kept."""
        if participant_key is not None:
            participant_key = _check_key(participant_key)
        with self._engine.begin() as connection:
            row = connection.execute(
                select(*_COLUMNS).where(Room.slug == slug).with_for_update()
            ).first()
            if row is None:
                raise NotFoundError(f"no room {slug!r}")
            room = _record(row)
            changes: dict[str, str] = {}
            if participant_key is not None and participant_key != room.participant_key:
                changes["participant_key"] = participant_key
            elif room.participant_key is None:
                changes["participant_key"] = _new_participant_key()
            if room.host_token is None:
                changes["host_token"] = _new_host_token()
            if not changes:
                return room
            connection.execute(update(Room).where(Room.id == room.id).values(**changes))
        return RoomRecord(
            room.id,
            room.slug,
            room.name,
            room.timezone,
            changes.get("participant_key", room.participant_key),
            changes.get("host_token", room.host_token),
        )

    def _set_secrets(self, slug: str, **values: str) -> RoomRecord:
        with self._engine.begin() as connection:
            row = connection.execute(
                update(Room).where(Room.slug == slug).values(**values).returning(*_COLUMNS)
            ).first()
        if row is None:
            raise NotFoundError(f"no room {slug!r}")
        return _record(row)

    def _free_slug(self, base: str) -> str:
        """`base`, or `base-N` with the smallest N >= 2 no room has yet."""
        pattern = base + "-%"
        with self._engine.connect() as connection:
            taken = set(
                connection.execute(
                    select(Room.slug).where((Room.slug == base) | Room.slug.like(pattern))
                ).scalars()
            )
        if base not in taken:
            return base
        suffix = 2
        while f"{base}-{suffix}" in taken:
            suffix += 1
        return f"{base}-{suffix}"


def slug_base(name: str) -> str:
    """The slug a name asks for: lowercase ASCII letters, digits and single hyphens
    ('Équipe Café #2' -> 'equipe-cafe-2'); 'room' when nothing of it is ASCII."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_name.lower()).strip("-")
    slug = slug[:SLUG_BASE_LENGTH].rstrip("-")
    return slug or FALLBACK_SLUG


def join_link(base_url: str, room: RoomRecord) -> str:
    """The link participants open: the room's page with its key in the fragment (which
    browsers never send to the server, nor leave in its access log)."""
    if room.participant_key is None:
        raise ValueError(f"the room {room.slug!r} has no participant key in the database")
    return f"{_page(base_url, room)}#key={quote(room.participant_key, safe='')}"


def host_link(base_url: str, room: RoomRecord) -> str:
    """The link that makes its holder the room's host (the desktop app pastes it)."""
    if room.host_token is None:
        raise ValueError(f"the room {room.slug!r} has no host token in the database")
    return f"{_page(base_url, room)}#host={quote(room.host_token, safe='')}"


def _page(base_url: str, room: RoomRecord) -> str:
    return f"{base_url.rstrip('/')}/rooms/{room.slug}/"


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidInputError(f"a room name must be 1-{MAX_NAME_LENGTH} characters")
    # NUL cannot be stored by PostgreSQL; other control characters (a newline, an
    # escape sequence) would garble every list and terminal that shows the name.
    if any(unicodedata.category(character) == "Cc" for character in name):
        raise InvalidInputError("a room name cannot contain control characters (NUL, newline)")
    return name


def _check_zone(timezone: str | None) -> str | None:
    if timezone is None:
        return None
    if not timezone or len(timezone) > MAX_ZONE_LENGTH or "\x00" in timezone:
        raise InvalidInputError(f"{timezone!r} is not a time zone (e.g. Europe/Berlin)")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInputError(
            f"{timezone!r} is not a time zone; use an IANA name such as Europe/Berlin"
        ) from None
    return timezone


def _check_key(key: str) -> str:
    if len(key) > MAX_SECRET_LENGTH:
        raise InvalidInputError(f"a room key is at most {MAX_SECRET_LENGTH} characters")
    try:
        return check_room_key(key)
    except RoomKeyError as error:
        raise InvalidInputError(str(error)) from None


def _new_participant_key() -> str:
    return secrets.token_urlsafe(PARTICIPANT_KEY_BYTES)


def _new_host_token() -> str:
    return secrets.token_urlsafe(HOST_TOKEN_BYTES)
