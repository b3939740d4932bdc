"""Every file location in one place: platformdirs, or one folder for all."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from mudameter_desktop import APP_ID

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077
_USER_UMASK: list[int] = []  # the umask the process started with, kept by `private_files`


@dataclass(frozen=True)
class AppPaths:
    data_dir: Path  # the database
    log_dir: Path
    config_dir: Path  # settings and the room key

    @property
    def database_file(self) -> Path:
        return self.data_dir / "mudameter.sqlite3"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "mudameter.log"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    def create(self) -> None:
        """Make the folders, the user's alone (0700), and tighten what an older version left.

        The settings hold the room key, the database every click, the log who
        joined: on a shared machine no other account may read them.
        """
        for folder in (self.data_dir, self.log_dir, self.config_dir):
            folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
            _tighten(folder, PRIVATE_FOLDER)
        for pattern, folder in (
            ("settings.json", self.config_dir),
            (self.database_file.name + "*", self.data_dir),  # -wal, -shm, .lock, moved aside
            (self.log_file.name + "*", self.log_dir),  # and its rotated copies
        ):
            for file in folder.glob(pattern):
                _tighten(file, PRIVATE_FILE)


def private_files() -> None:
    """From now on, files and folders this process creates are the user's alone.

    A umask of 077 covers what is not created with an explicit mode (SQLite's
    database and its -wal/-shm, Qt's files). POSIX only; Windows keeps
    per-user ACLs on the user's profile folders.
    """
    if os.name == "posix":
        _USER_UMASK.append(os.umask(PRIVATE_UMASK))


def as_user_file(path: Path) -> None:
    """A file the user asked for (an export) gets the mode their own umask gives, not 0600."""
    if os.name == "posix" and _USER_UMASK:
        with contextlib.suppress(OSError):
            path.chmod(0o666 & ~_USER_UMASK[0])


def _tighten(path: Path, mode: int) -> None:
    """Best effort: what cannot be changed (another owner, read-only) is left to fail later."""
    if os.name != "posix" or path.is_symlink():
        return
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o777 & ~mode:
            path.chmod(mode)


def resolve_paths(data_dir: Path | None = None) -> AppPaths:
    """Platform places, or everything under `data_dir` (tests, portable use)."""
    if data_dir is not None:
        root = data_dir.expanduser().resolve()
        return AppPaths(root, root / "logs", root / "config")
    return AppPaths(
        Path(platformdirs.user_data_dir(APP_ID, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_ID, appauthor=False)),
        Path(platformdirs.user_config_dir(APP_ID, appauthor=False)),
    )
