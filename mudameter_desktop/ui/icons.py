"""Icons drawn from the SVGs in `resources/icons/` (scalable, so sharp at HiDPI)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QIcon

from mudameter_desktop.domain.statuses import Status

# A folder on disk in the editable install, the wheel and the bundle (QIcon needs a path).
ICONS = Path(str(resources.files("mudameter_desktop.resources") / "icons"))
APP_ICON = "mudameter"
IDLE = "idle"


@cache
def icon(name: str) -> QIcon:
    return QIcon(str(ICONS / f"{name}.svg"))


def status_icon(status: Status | None) -> QIcon:
    """The tray icon for a status; neutral when idle."""
    return icon(status.value if status else IDLE)
