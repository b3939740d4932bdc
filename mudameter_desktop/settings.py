"""User settings, one JSON file in the config dir (written atomically)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765
KEY_BYTES = 16  # 128 bits of randomness
MIN_KEY_LENGTH = 22  # what token_urlsafe(KEY_BYTES) makes; a shorter key is guessable
KEY_ENVIRONMENT = "MUDAMETER_ROOM_KEY"
PRIVATE_FILE = 0o600  # settings hold the room key: the user's alone


class RoomKeyError(ValueError):
    """A room key that cannot be used; the message is one line meant for the user."""


def new_room_key() -> str:
    import secrets  # noqa: PLC0415 - hmac and OpenSSL: ~8 ms before the tray otherwise

    return secrets.token_urlsafe(KEY_BYTES)


def check_room_key(key: str) -> str:
    """`key` if it is strong enough to guard the room; else `RoomKeyError`."""
    if len(key) < MIN_KEY_LENGTH:
        raise RoomKeyError(
            f"The room key is too short ({len(key)} characters): it needs at least "
            f"{MIN_KEY_LENGTH} random ones (128 bits); leave it out to get one made for you."
        )
    if not key.isprintable() or any(character.isspace() for character in key):
        raise RoomKeyError("The room key must be printable characters without spaces.")
    return key


def room_key_from(
    given: str | None, key_file: Path | None, environment: Mapping[str, str]
) -> str | None:
    """The scripted room key: `--room-key`, else `--room-key-file`, else `MUDAMETER_ROOM_KEY`.

    None when none is given (the saved random key is used). A file or the
    environment keeps the key out of the process list, where `ps` shows it
    to every local user. Raises `RoomKeyError`.
    """
    if given is not None:
        return check_room_key(given)
    if key_file is not None:
        try:
            text = key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or error
            raise RoomKeyError(f"Cannot read the room key file {key_file}: {reason}") from error
        return check_room_key(text.strip())
    from_environment = environment.get(KEY_ENVIRONMENT)
    if from_environment:
        return check_room_key(from_environment.strip())
    return None


@dataclass(frozen=True)
class Settings:
    port: int = DEFAULT_PORT
    share_on_lan: bool = False
    require_room_key: bool = True
    hourly_cost: float = 0.0
    currency: str = "EUR"
    start_at_login: bool = False
    notify_meetings: bool = True
    nudge_disengaged: bool = False
    room_key: str = ""
    export_folder: str = ""  # where the last export was saved ("": the documents folder)
    # Global shortcuts (issue 15): on where the desktop lets an app grab keys (X11), else off.
    shortcuts_enabled: bool = True
    shortcut_speaking: str = "Ctrl+Alt+1"
    shortcut_engaged: str = "Ctrl+Alt+2"
    shortcut_disengaged: str = "Ctrl+Alt+3"
    # An .ics file or a calendar address ("": no calendar): meetings named from it.
    calendar: str = ""
    # A team server room's host link (`mudameter --connect`; it holds the host token):
    # clicks go to that room. "": the local store (SPEC §7, last bullet).
    team_server: str = ""

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def load_settings(path: Path) -> Settings:
    """The saved settings; defaults for anything missing or unreadable.

    A room key is made once and saved, so phones that joined keep working
    after a restart.
    """
    values: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                values = loaded
        except (OSError, ValueError) as error:
            log.warning("Settings file %s unreadable (%s); using defaults", path, error)
    defaults = Settings()
    known = {field.name: field for field in fields(Settings)}
    clean: dict[str, Any] = {
        name: float(value) if isinstance(getattr(defaults, name), float) else value
        for name, value in values.items()
        if name in known and _fits(value, getattr(defaults, name))
    }
    settings = replace(defaults, **clean)
    if len(settings.room_key) < MIN_KEY_LENGTH:  # none yet, or a guessable one
        settings = settings.with_changes(room_key=new_room_key())
        save_settings(path, settings)
    elif path.exists():
        path.chmod(PRIVATE_FILE)  # written by an older version, readable by all
    return settings


def _fits(value: Any, default: Any) -> bool:
    """JSON types match the default's (an int is fine for a float, a bool never is)."""
    if isinstance(value, bool) or isinstance(default, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    return isinstance(value, type(default))


def save_settings(path: Path, settings: Settings) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    # Created private whatever the umask: the file holds the room key.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        if hasattr(os, "fchmod"):  # an older temporary file keeps its mode through O_CREAT
            os.fchmod(file.fileno(), PRIVATE_FILE)
        file.write(json.dumps(asdict(settings), indent=2))
    os.replace(temporary, path)
