"""The start-up baseline: a bare PySide6 script that only shows a tray icon.

    python benchmarks/bare_tray.py [--eager]

It prints "Tray shown" to standard error right after `QSystemTrayIcon.show()`
(the app logs the same line at the same point), then runs Qt's event loop
until SIGTERM or SIGINT. With `--eager` it first imports litestar, uvicorn and
sqlalchemy, as a naive app that loaded its whole stack before showing
anything would: the baseline for "start -> server answers".
"""

from __future__ import annotations

import signal
import sys

if "--eager" in sys.argv:
    import litestar  # noqa: F401
    import sqlalchemy  # noqa: F401
    import uvicorn  # noqa: F401

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QSystemTrayIcon


def main() -> int:
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    pixmap = QPixmap(32, 32)
    pixmap.fill(QColor("#009E73"))
    tray = QSystemTrayIcon(QIcon(pixmap))
    tray.show()
    print("Tray shown", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    # Let Python see the signals: without a wake-up fd, only a timer would.
    wake = QTimer(interval=1000)  # once a second, as the app's headless loop
    wake.timeout.connect(lambda: None)
    wake.start()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
