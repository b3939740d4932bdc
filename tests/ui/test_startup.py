"""Start-up order: the tray's modules load without the store and server stack."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "litestar", "uvicorn")


def test_the_tray_loads_without_the_store_and_server_stack() -> None:
    probe = (
        "import sys, mudameter_desktop.app as app, mudameter_desktop.ui.application; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert loaded.strip() == "[]"
