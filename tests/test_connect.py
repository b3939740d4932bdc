"""`mudameter --connect HOST_LINK` and `--disconnect` (issue 13): the link is checked,
remembered in the settings (which the app then starts with), and forgotten again."""

from __future__ import annotations

from pathlib import Path

import pytest

from mudameter_desktop import app
from mudameter_desktop.__main__ import main
from mudameter_desktop.paths import resolve_paths
from mudameter_desktop.runtime import Options, is_shared, open_runtime
from mudameter_desktop.settings import Settings, load_settings, save_settings

LINK = "https://meter.example.com/rooms/team-a/#host=host-token-0123456789abcdef"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Options]:
    """The tray app's start, replaced: the options it would have started with."""
    calls: list[Options] = []

    def run_gui(options: Options) -> int:
        calls.append(options)
        return 0

    monkeypatch.setattr(app, "run_gui", run_gui)
    return calls


def saved_team_server(data_dir: Path) -> str:
    return load_settings(resolve_paths(data_dir).settings_file).team_server


def test_connect_remembers_the_link_and_starts_the_app(
    tmp_path: Path, started: list[Options]
) -> None:
    assert main(["--connect", f" {LINK}\n", "--data-dir", str(tmp_path)]) == 0
    assert saved_team_server(tmp_path) == LINK
    assert len(started) == 1  # the app starts, connected (it reads the settings)
    assert main(["--data-dir", str(tmp_path)]) == 0
    assert saved_team_server(tmp_path) == LINK  # remembered for the next starts
    assert main(["--disconnect", "--data-dir", str(tmp_path)]) == 0
    assert saved_team_server(tmp_path) == ""
    assert len(started) == 3


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--connect", "https://meter.example.com/rooms/team-a/#key=abc"], "join link"),
        (["--connect", "meter.example.com"], "starts with https://"),
        (["--connect", LINK, "--headless"], "not --headless"),
    ],
)
def test_a_bad_connect_is_one_line_and_exit_2(
    tmp_path: Path,
    started: list[Options],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    says: str,
) -> None:
    assert main([*args, "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mudameter: ") and says in err
    assert len(err.splitlines()) == 1
    assert started == []
    assert not resolve_paths(tmp_path).settings_file.exists()  # nothing saved


def test_connect_and_disconnect_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--connect", LINK, "--disconnect"])
    assert "not allowed with" in capsys.readouterr().err


def test_the_runtime_connects_to_the_saved_room_and_shares_nothing(tmp_path: Path) -> None:
    """The tray's runtime has a team client for the saved link, and its own server stays
    on this computer even with "Share on LAN" saved: phones join the team server."""
    options = Options(data_dir=tmp_path, port=0)
    paths = resolve_paths(tmp_path)
    paths.create()
    save_settings(paths.settings_file, Settings(share_on_lan=True, team_server=LINK))
    runtime = open_runtime(options, paths)
    try:
        assert runtime.team is not None
        assert runtime.team.link.room_url == "https://meter.example.com/rooms/team-a"
        assert runtime.server is not None, runtime.server_error
        assert not is_shared(runtime.server)
    finally:
        runtime.close()
    headless = open_runtime(Options(data_dir=tmp_path, headless=True), paths, serve=False)
    try:
        assert headless.team is None  # a server is nobody's client
    finally:
        headless.close()


def test_a_saved_link_that_is_not_one_leaves_the_app_on_its_own_store(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path)
    paths.create()
    save_settings(paths.settings_file, Settings(team_server="https://meter.example.com/"))
    runtime = open_runtime(Options(data_dir=tmp_path), paths, serve=False)
    try:
        assert runtime.team is None
    finally:
        runtime.close()
