"""Tray first: `ui.launch` shows the icon before the rest of the UI is imported.

The controller, state, menu, shortcuts and their imports cost ~60 ms before
the tray could dock (benchmarks/README.md); `DesktopApp` adopts the icon.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.ui.application import DesktopApp
from mudameter_desktop.ui.icons import APP_ICON, icon, status_icon

LATER = (
    "mudameter_desktop.ui.application",
    "mudameter_desktop.ui.controller",
    "mudameter_desktop.ui.state",
    "mudameter_desktop.ui.tray",
    "mudameter_desktop.ui.shortcuts",
    "PySide6.QtNetwork",  # the single-instance call is a plain socket (not on Windows)
    "importlib.resources",  # the icons' folder comes from the package's spec
)

PROBE = """
import json, sys
from pathlib import Path
from mudameter_desktop.runtime import Options
from mudameter_desktop.ui.launch import Launched, launch
launched = launch(Options(data_dir=Path(sys.argv[1])))
assert isinstance(launched, Launched), launched
print(json.dumps(sorted(set(sys.argv[2:]) & set(sys.modules))))
"""


def test_launch_loads_none_of_the_rest_of_the_ui(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), *LATER],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_desktop_app_adopts_the_icon_launch_showed(qapp: object) -> None:
    icon = QSystemTrayIcon(QIcon())
    desktop = DesktopApp(quit_app=lambda: None, tray=icon)
    assert desktop.tray is icon
    assert icon.parent() is desktop
    assert icon.contextMenu() is desktop.menu


def test_every_icon_the_tray_shows_is_found(qapp: object) -> None:
    for shown in (icon(APP_ICON), status_icon(None), *(status_icon(s) for s in Status)):
        assert not shown.isNull()
        assert not shown.pixmap(32, 32).isNull()
