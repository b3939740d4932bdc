"""The real app under Xvfb with a tray host (trayer), driven by xdotool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ("tray", "menu", "qr", "meter", "history", "icons")


@pytest.mark.xvfb
def test_screenshot_tour_of_the_real_app(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "screenshots.py"), str(tmp_path)],
        env={**os.environ, "SCREENSHOT_DISPLAY": ":97"},
        check=True,
        timeout=300,
        capture_output=True,
    )
    for name in SHOTS:
        image = QImage(str(tmp_path / f"{name}.png"))
        assert not image.isNull(), name
        assert image.width() > 100 and image.height() > 30, name
