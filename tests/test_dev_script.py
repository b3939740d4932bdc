"""`scripts/dev.py`: `run` installs the app alone, `test` adds the dev extra.

Run for real on a tiny project beside a copy of the script (the app's own
dependencies would take minutes to install); the script only knows its root.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "dev.py"
PROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "devprobe"
version = "0"

[project.optional-dependencies]
dev = ["iniconfig"]

[tool.setuptools]
packages = ["mudameter_desktop"]
"""


def has_module(venv: Path, name: str) -> bool:
    probe = [venv / "bin" / "python", "-c", f"import {name}"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@pytest.mark.slow
def test_run_installs_the_app_alone_and_test_adds_the_dev_tools(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "dev.py")
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    package = tmp_path / "mudameter_desktop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("import sys\nprint('app ran', sys.argv[1:])\n")
    dev = [sys.executable, str(tmp_path / "scripts" / "dev.py")]
    venv = tmp_path / ".venv"

    ran = subprocess.run([*dev, "run", "--x"], capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    assert "app ran ['--x']" in ran.stdout
    assert (venv / ".installed-app").exists()
    assert not has_module(venv, "iniconfig")  # the dev extra was not installed

    # `test` installs the dev extra, then runs tox (absent from this probe: it fails after).
    subprocess.run([*dev, "test"], capture_output=True, text=True, check=False)
    assert (venv / ".installed-dev").exists()
    assert has_module(venv, "iniconfig")

    stamps = {stamp: stamp.stat().st_mtime_ns for stamp in venv.glob(".installed-*")}
    again = subprocess.run([*dev, "run"], capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    # The dev install holds the app: `run` installs nothing more (no stamp rewritten).
    assert {stamp: stamp.stat().st_mtime_ns for stamp in venv.glob(".installed-*")} == stamps
