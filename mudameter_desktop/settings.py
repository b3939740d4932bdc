"""User settings, one JSON file in the config dir (written atomically)."""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765


def new_room_key() -> str:
    return secrets.token_urlsafe(16)


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
    if not settings.room_key:
        settings = settings.with_changes(room_key=new_room_key())
        save_settings(path, settings)
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
    temporary.write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")
    os.replace(temporary, path)
