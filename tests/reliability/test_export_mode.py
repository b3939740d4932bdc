"""Exports are the user's documents: their own umask, not the app's private 0600."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mudameter_desktop import paths


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_an_export_gets_the_users_umask_while_app_files_stay_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "_USER_UMASK", [])
    previous = os.umask(0o022)
    try:
        paths.private_files()
        private = tmp_path / "app.log"
        private.write_text("x")
        export = tmp_path / "meeting.csv"
        export.write_text("x")
        paths.as_user_file(export)
    finally:
        os.umask(previous)
    assert private.stat().st_mode & 0o777 == 0o600
    assert export.stat().st_mode & 0o777 == 0o644
