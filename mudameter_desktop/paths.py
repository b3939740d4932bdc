"""Every file location in one place: platformdirs, or one folder for all."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs

from mudameter_desktop import APP_ID


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
        for folder in (self.data_dir, self.log_dir, self.config_dir):
            folder.mkdir(parents=True, exist_ok=True)


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
