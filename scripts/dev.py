#!/usr/bin/env python3
"""Set up `.venv` on a fresh machine and run the app or the whole test suite.

    python3 scripts/dev.py run [mudameter arguments]   # start the app
    python3 scripts/dev.py test [tox arguments]        # every lint, type and test env

Standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"


def ensure_venv() -> None:
    """Create `.venv` and install the project with its dev extra (once per change)."""
    if sys.version_info < (3, 11):  # noqa: UP036 - runs on whatever python3 the machine has
        sys.exit("Muda Meter needs Python 3.11 or newer.")
    if not (BIN / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def with_pyenv_pythons(env: dict[str, str]) -> dict[str, str]:
    """Put every pyenv-installed Python on PATH, so tox finds 3.11 and 3.12."""
    versions = Path(env.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    extra = [str(path / "bin") for path in sorted(versions.glob("3.1[12]*"))]
    env["PATH"] = os.pathsep.join([*extra, env.get("PATH", "")])
    return env


def main() -> int:
    command, *rest = sys.argv[1:] or ["help"]
    if command not in {"run", "test"}:
        print(__doc__)
        return 2
    ensure_venv()
    env = with_pyenv_pythons(dict(os.environ))
    if command == "run":
        program = [str(BIN / "python"), "-m", "mudameter_desktop", *rest]
    else:
        program = [str(BIN / "tox"), *rest]
    return subprocess.run(program, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
