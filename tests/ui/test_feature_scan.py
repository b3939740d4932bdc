"""PySide6's per-import `__feature__` scan gives the same answers and keeps no sources.

Each probe runs in a fresh interpreter: PySide6 remembers its answer per module
name, and `linecache` is per process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, linecache, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import PySide6.QtWidgets
if sys.argv[1] == "launch":
    from mudameter_desktop.runtime import Options
    from mudameter_desktop.ui.launch import launch
    launch(Options(data_dir=Path(sys.argv[2]) / "data"))
import probe_plain, probe_qt, sqlalchemy
answers = sys.modules["shibokensupport.feature"].pyside_feature_dict
names = ["probe_plain", "probe_qt", "sqlalchemy", "sqlalchemy.sql.compiler"]
mine = ("/probe_", "/sqlalchemy/", "/typing.py")
cached = [name for name in linecache.cache if any(part in name for part in mine)]
print(json.dumps({"answers": {name: answers.get(name) for name in names}, "cached": cached}))
"""


def probe(mode: str, folder: Path) -> dict[str, object]:
    (folder / "probe_plain.py").write_text("VALUE = 1\n")
    (folder / "probe_qt.py").write_text("from PySide6.QtCore import QObject\n")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_launch_keeps_pyside_answers_and_caches_no_source(tmp_path: Path) -> None:
    (tmp_path / "as_pyside").mkdir()
    (tmp_path / "launched").mkdir()
    as_pyside = probe("pyside", tmp_path / "as_pyside")
    launched = probe("launch", tmp_path / "launched")

    assert as_pyside["answers"] == {
        "probe_plain": -1,  # "ignore this module"
        "probe_qt": 0,  # uses PySide6, no feature switched on
        "sqlalchemy": -1,
        "sqlalchemy.sql.compiler": -1,
    }
    assert as_pyside["cached"], "PySide6 no longer caches sources: feature_scan can go"
    assert launched["answers"] == as_pyside["answers"]
    assert launched["cached"] == []
