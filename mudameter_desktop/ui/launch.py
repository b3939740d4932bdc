"""Tray first: the steps before the tray icon shows, with as few imports as possible.

`launch()` makes the QApplication, prepares the data folder (and logging),
asks a running instance to show itself (single instance) and shows the tray
icon; only then does `ui.application` import the controller, the state, the
menu and the rest. Importing those first made the tray dock ~60 ms later
(benchmarks/README.md: start -> tray docked, beside a bare PySide6 script).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from mudameter_desktop import APP_ID, APP_NAME
from mudameter_desktop.paths import AppPaths
from mudameter_desktop.runtime import Options, prepare_paths
from mudameter_desktop.ui.feature_scan import scan_without_caching_sources
from mudameter_desktop.ui.icons import APP_ICON, icon, status_icon
from mudameter_desktop.ui.single_instance import notify_running, socket_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Launched:
    app: QApplication
    paths: AppPaths
    socket_name: str  # the single-instance server's name
    tray: QSystemTrayIcon | None  # shown already; None without a system tray


def launch(options: Options, show_tray: bool = True) -> Launched | int:
    """The application, its folder and (with a system tray) the icon, shown; or an exit code."""
    scan_without_caching_sources()  # before the UI and the backend are imported: -20 MB
    app = QApplication.instance() or QApplication([APP_ID])  # APP_ID: the X11 window class
    if not isinstance(app, QApplication):
        raise RuntimeError("The tray app needs a QApplication, not a QCoreApplication")
    app.setApplicationName(APP_NAME)
    app.setDesktopFileName(APP_ID)
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(icon(APP_ICON))
    try:
        paths = prepare_paths(options)
    except Exception as error:  # an unusable data folder: say so where a GUI user looks
        print(error, file=sys.stderr)
        from PySide6.QtWidgets import QMessageBox  # noqa: PLC0415 - late, only on errors

        QMessageBox.critical(None, APP_NAME, str(error))
        return 1
    name = socket_name(paths.data_dir)
    if notify_running(name):
        log.info("Muda Meter is already running; showed its history window")
        return 0
    tray = None
    if show_tray and QSystemTrayIcon.isSystemTrayAvailable():
        tray = QSystemTrayIcon(status_icon(None))
        tray.show()
        log.info("Tray shown")
    return Launched(app, paths, name, tray)
