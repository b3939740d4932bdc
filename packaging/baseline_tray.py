"""The size baseline: a bare PySide6 app that only shows a tray icon.

Built by `packaging/baseline.spec` with the same Qt filtering as the app, so
`scripts/build_linux.py --baseline` can compare the app bundle against it.
"""

import sys

from PySide6.QtWidgets import QApplication, QStyle, QSystemTrayIcon

app = QApplication(sys.argv)
tray = QSystemTrayIcon(app.style().standardIcon(QStyle.StandardPixmap.SP_ComputerIcon))
tray.show()
sys.exit(app.exec())
