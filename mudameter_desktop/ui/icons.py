"""Icons drawn from the SVGs in `resources/icons/` (scalable, so sharp at HiDPI)."""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path

from PySide6.QtGui import QIcon

from mudameter_desktop.domain.statuses import Status


def _resources_folder() -> Path:
    """The package's folder on disk in the editable install, the wheel and the bundle.

    Found by the import system, not `importlib.resources`, which costs 3-4 ms before
    the tray (benchmarks/README.md); QIcon needs a path on disk either way.
    """
    spec = find_spec("mudameter_desktop.resources")
    if spec is None or spec.origin is None:
        raise RuntimeError("the package mudameter_desktop.resources is missing")
    return Path(spec.origin).parent


ICONS = _resources_folder() / "icons"
APP_ICON = "mudameter"
IDLE = "idle"


@cache
def icon(name: str) -> QIcon:
    return QIcon(str(ICONS / f"{name}.svg"))


def status_icon(status: Status | None) -> QIcon:
    """The tray icon for a status; neutral when idle."""
    return icon(status.value if status else IDLE)
