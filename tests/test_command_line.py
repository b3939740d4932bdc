"""The installed command line, paths, settings and logging."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from mudameter_desktop import __version__
from mudameter_desktop.__main__ import build_parser
from mudameter_desktop.logs import setup_logging
from mudameter_desktop.paths import resolve_paths
from mudameter_desktop.settings import Settings, load_settings, save_settings

BIN = Path(sys.executable).parent


def test_version_and_help_work_from_the_installed_entry_point() -> None:
    version = subprocess.run(
        [BIN / "mudameter", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"mudameter {__version__}"
    help_text = subprocess.run(
        [BIN / "mudameter", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in ("--headless", "--host", "--port", "--data-dir", "--database-url", "--room-key"):
        assert option in help_text


def test_options_are_parsed_and_bad_ports_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["--headless", "--host", "0.0.0.0", "--port", "9000", "--data-dir", "/tmp/x"]  # noqa: S104, S108
    )
    assert (args.headless, args.host, args.port, args.data_dir) == (
        True,
        "0.0.0.0",  # noqa: S104
        9000,
        Path("/tmp/x"),  # noqa: S108
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--port", "70000"])
    assert "port must be 0-65535" in capsys.readouterr().err


def test_data_dir_overrides_every_location(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path)
    assert paths.database_file == tmp_path / "mudameter.sqlite3"
    assert paths.log_file.parent == tmp_path / "logs"
    assert paths.settings_file.parent == tmp_path / "config"
    paths.create()
    assert all(p.is_dir() for p in (paths.data_dir, paths.log_dir, paths.config_dir))


def test_platform_locations_are_separate_without_an_override() -> None:
    paths = resolve_paths()
    assert "mudameter" in str(paths.data_dir)
    assert paths.config_dir != paths.data_dir


def test_settings_round_trip_and_a_room_key_is_made_once(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    first = load_settings(path)
    assert len(first.room_key) >= 16
    assert load_settings(path).room_key == first.room_key  # kept across restarts
    changed = first.with_changes(port=9123, hourly_cost=80.0, currency="USD", share_on_lan=True)
    save_settings(path, changed)
    assert load_settings(path) == changed


def test_unreadable_or_wrongly_typed_settings_fall_back_to_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert load_settings(path).port == Settings().port
    path.write_text(json.dumps({"port": "eighty", "hourly_cost": 50, "room_key": "k" * 20}))
    loaded = load_settings(path)
    assert (loaded.port, loaded.hourly_cost, loaded.room_key) == (8765, 50.0, "k" * 20)


def test_logging_goes_to_the_rotating_file(tmp_path: Path) -> None:
    log_file = tmp_path / "mudameter.log"
    root = logging.getLogger()
    before = list(root.handlers)
    setup_logging(log_file)
    try:
        logging.getLogger("mudameter_desktop.test").warning("hello from the test")
        for handler in root.handlers:
            handler.flush()
        assert "hello from the test" in log_file.read_text()
    finally:
        for handler in set(root.handlers) - set(before):
            root.removeHandler(handler)
            handler.close()
