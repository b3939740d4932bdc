#!/usr/bin/env python3
"""Set up `.venv` on a fresh machine and run the app or the whole test suite.

    python3 scripts/dev.py run [mudameter arguments]   # install the app, start it
    python3 scripts/dev.py test [tox arguments]        # add the dev tools, every tox env

`run` installs the app alone (no test or packaging tools); afterwards the
command is `.venv/bin/mudameter`. `test` installs the `dev` extra.

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
# One stamp per install: the app alone (`run`), or with the dev extra (`test`).
APP_STAMP = VENV / ".installed-app"
DEV_STAMP = VENV / ".installed-dev"


def ensure_venv(dev: bool) -> None:
    """Create `.venv` and install the project, with the dev extra if `dev` (once per change)."""
    if sys.version_info < (3, 11):  # noqa: UP036 - runs on whatever python3 the machine has
        sys.exit("Muda Meter needs Python 3.11 or newer.")
    if not (BIN / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    enough = [DEV_STAMP] if dev else [APP_STAMP, DEV_STAMP]  # the dev install has the app too
    if any(stamp.exists() and stamp.read_text() == wanted for stamp in enough):
        return
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]" if dev else str(ROOT)], check=True)
    (DEV_STAMP if dev else APP_STAMP).write_text(wanted)


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
    ensure_venv(dev=command == "test")
    env = with_pyenv_pythons(dict(os.environ))
    if command == "run":
        program = [str(BIN / "python"), "-m", "mudameter_desktop", *rest]
    else:
        program = [str(BIN / "tox"), *rest]
    return subprocess.run(program, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
