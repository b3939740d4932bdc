"""`mudameter rooms …` as a sysadmin runs it: a subprocess on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from mudameter_desktop import paths
from mudameter_desktop.__main__ import DATABASE_URL_ENVIRONMENT
from mudameter_desktop.__main__ import main as entry_point
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import make_engine, open_store, sqlite_url
from mudameter_desktop.store.tables import Meeting
from tests.postgres import PostgresCluster

PUBLIC = "https://meter.example.com"
ROOM_FIELDS = {
    "slug",
    "name",
    "timezone",
    "join_link",
    "host_link",
    "participant_key",
    "host_token",
}


def rooms(
    *args: str, data_dir: Path | None = None, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != DATABASE_URL_ENVIRONMENT}
    env.update(environment or {})
    extra = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return subprocess.run(
        [sys.executable, "-m", "mudameter_desktop", "rooms", *args, *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def ok(*args: str) -> str:
    done = rooms(*args)
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout


def refused(code: int, *args: str) -> str:
    """The one line of a refusal, checked to be one line with no traceback."""
    done = rooms(*args)
    assert done.returncode == code, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mudameter rooms: ")
    return lines[0]


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL (the command migrates it): a SQLite file or PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "server.sqlite3")
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database()
    try:
        yield url
    finally:
        cluster.drop_database(url)


def meetings_in(url: str, room_id: int) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    select(func.count()).select_from(Meeting).where(Meeting.room_id == room_id)
                )
                or 0
            )
    finally:
        engine.dispose()


def room_id_of(url: str, slug: str) -> int:
    from mudameter_desktop.services.rooms import RoomDirectory

    engine = make_engine(url)
    try:
        return RoomDirectory(engine).get(slug).id
    finally:
        engine.dispose()


def test_add_list_new_key_remove(database: str) -> None:
    where = ("--database-url", database, "--public-url", PUBLIC + "/")
    added: dict[str, Any] = json.loads(
        ok("add", "Team A", "--timezone", "Europe/Berlin", "--json", *where)
    )
    assert set(added) == ROOM_FIELDS
    key, token = added["participant_key"], added["host_token"]
    assert (added["slug"], added["name"], added["timezone"]) == (
        "team-a",
        "Team A",
        "Europe/Berlin",
    )
    assert len(key) >= 22 and len(token) >= 43
    assert added["join_link"] == f"{PUBLIC}/rooms/team-a/#key={key}"
    assert added["host_link"] == f"{PUBLIC}/rooms/team-a/#host={token}"

    plain = ok("add", "Team A", *where).splitlines()  # the same name: the next slug
    assert plain[0] == "Slug: team-a-2"
    assert plain[1].startswith(f"Join link: {PUBLIC}/rooms/team-a-2/#key=")
    assert plain[2].startswith(f"Host link: {PUBLIC}/rooms/team-a-2/#host=")
    assert len(plain) == 3

    listed = json.loads(ok("list", "--json", *where))
    assert [room["slug"] for room in listed] == ["default", "team-a", "team-a-2"]
    assert listed[1] == added  # the same secrets, the same links
    assert listed[0]["name"] == "Default"
    assert all(set(room) == ROOM_FIELDS for room in listed)
    table = ok("list", *where)
    assert "team-a-2" in table and added["join_link"] in table and added["host_link"] in table

    renewed = ok("new-key", "team-a", *where).splitlines()
    assert len(renewed) == 1 and renewed[0].startswith(f"Join link: {PUBLIC}/rooms/team-a/#key=")
    after = json.loads(ok("list", "--json", *where))[1]
    assert after["participant_key"] != key
    assert renewed[0] == f"Join link: {after['join_link']}"
    assert {**after, "participant_key": key, "join_link": added["join_link"]} == added

    room_id = room_id_of(database, "team-a")
    store = open_store(database)  # a meeting in the room, then let go of the (SQLite) lock
    MeterService(store.engine, ZoneInfo("UTC"), room_id=room_id).detect_meeting()
    store.close()
    assert meetings_in(database, room_id) == 1
    assert "team-a" in ok("remove", "team-a", *where)
    assert meetings_in(database, room_id) == 0
    assert [room["slug"] for room in json.loads(ok("list", "--json", *where))] == [
        "default",
        "team-a-2",
    ]
    assert "cannot be removed" in refused(2, "remove", "default", *where)
    assert "no room 'team-a'" in refused(1, "remove", "team-a", *where)
    assert "no room 'team-a'" in refused(1, "new-key", "team-a", *where)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "Team", "--timezone", "Mars/Olympus"], "not a time zone"),
        (["add", ""], "1-200 characters"),
        (["add", "a\x00b"], "control characters"),
        (["add", "a\nb"], "control characters"),
        (["add", "x" * 201], "1-200 characters"),
        (["add", "Team", "--public-url", "ftp://x"], "not an http(s) address"),
        (["add"], "required: name"),
        (["launch"], "invalid choice"),
        ([], "required: COMMAND"),
        (["list", "--database-url", "not a url"], "is not a database URL"),
        (["list", "--database-url", "oracle://x/y"], "--database-url"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    """In this process (each case as a subprocess would take seconds): `mudameter rooms`
    through the real entry point, with no umask change leaking into the other tests."""
    monkeypatch.setattr(paths, "private_files", lambda: None)
    where = ["--database-url", sqlite_url(tmp_path / "server.sqlite3")]
    if args[:1] not in (["add"], ["list"]) or "--database-url" in args:
        where = []
    with pytest.raises(SystemExit) as exited:
        entry_point(["rooms", *args, *where])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("mudameter rooms: ")
    assert message in err


def test_bad_input_from_a_shell_is_one_line_and_exit_2(tmp_path: Path) -> None:
    where = ("--database-url", sqlite_url(tmp_path / "server.sqlite3"))
    assert "not a time zone" in refused(2, "add", "Team", "--timezone", "Mars/Olympus", *where)
    assert "1-200 characters" in refused(2, "add", "", *where)
    assert "control characters" in refused(2, "add", "a\x01b", *where)  # NUL cannot be in argv
    assert json.loads(ok("list", "--json", *where))[1:] == []  # nothing was added


def test_the_default_database_is_the_desktop_apps(tmp_path: Path) -> None:
    done = rooms("add", "Team A", "--json", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout)
    assert (tmp_path / "mudameter.sqlite3").exists()
    assert added["join_link"].startswith(f"http://{socket.getfqdn()}:8765/rooms/team-a/#key=")
    other = sqlite_url(tmp_path / "other.sqlite3")
    via_environment = rooms("list", "--json", environment={DATABASE_URL_ENVIRONMENT: other})
    assert [room["slug"] for room in json.loads(via_environment.stdout)] == ["default"]
    assert (tmp_path / "other.sqlite3").exists()


def test_a_database_in_use_or_unreachable_is_one_line_and_exit_1(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "app.sqlite3")
    store = open_store(url)  # the desktop app running on it
    try:
        assert "in use by another Muda Meter" in refused(1, "list", "--database-url", url)
    finally:
        store.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there
    line = refused(1, "list", "--database-url", f"postgresql+psycopg://nobody@127.0.0.1:{port}/x")
    assert "Cannot open the database" in line
