"""PySide6 6.12 on Python 3.11 takes a reference off None at every void call."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from PySide6.QtWidgets import QApplication, QLabel
import mudameter_desktop.ui.signals
app = QApplication(["probe"])
label = QLabel()
for number in range(200_000):  # without the headroom, None is freed after a few thousand
    label.setText("x")
print("alive")
"""


def test_many_void_qt_calls_never_free_none() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "alive"
