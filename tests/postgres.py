"""A throwaway PostgreSQL for the tests: a whole cluster of its own, or a server given by URL.

    cluster = PostgresCluster.from_environment()   # None: no PostgreSQL on this machine
    cluster.start()
    url = cluster.create_database()      # an empty database (migrations start from nothing)
    url = cluster.migrated_database()    # a database at the newest schema, in ~50 ms
    cluster.drop_database(url)
    cluster.stop()                       # drops what is left; a cluster of its own is removed

With `MUDAMETER_TEST_POSTGRES_URL` set (a server URL whose user may CREATE DATABASE),
that server is used and only the databases made here are dropped. Otherwise `initdb`
and `pg_ctl` (Debian's `postgresql` package) build a cluster in a temporary folder: as
the `postgres` user when run by root (the server refuses to run as root), listening on
127.0.0.1 and a socket in that folder only, with durability off (it is thrown away).

Migrated databases are copies (`CREATE DATABASE … TEMPLATE`) of one database that the
app's own `open_store` migrated once per session.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from mudameter_desktop.store.database import open_store

URL_VARIABLE = "MUDAMETER_TEST_POSTGRES_URL"
FOLDER_PREFIX = "mudameter-pg-"
OWNER_FILE = "owner.pid"  # the session's process: once it died, its cluster is an orphan
DRIVER = "postgresql+psycopg"
START_TIMEOUT = 60  # seconds for initdb + start on a slow CI machine
# A throwaway cluster: nothing it writes needs to survive a crash.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",  # reliability tests open pools from threads and processes
    "log_min_messages": "warning",
}


class PostgresUnavailableError(Exception):
    """Neither a server URL nor the PostgreSQL programs: the pg tests cannot run here."""


def find_bin_dir() -> Path | None:
    """The folder holding `initdb` and `pg_ctl` (Debian keeps them off PATH), newest first."""
    on_path = shutil.which("pg_ctl")
    if on_path and Path(on_path).with_name("initdb").exists():
        return Path(on_path).parent
    found = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if path.with_name("pg_ctl").exists()
    ]
    found.sort(key=lambda folder: _version_key(folder.parent.name), reverse=True)
    return found[0] if found else None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresCluster:
    """One PostgreSQL server for a test session; databases are made and dropped on demand."""

    def __init__(self, server_url: str | None = None, bin_dir: Path | None = None) -> None:
        if server_url is None and bin_dir is None:
            raise PostgresUnavailableError("give a server URL or the PostgreSQL programs' folder")
        self._given_url = server_url
        self._bin_dir = bin_dir
        self._folder: Path | None = None
        self._server: URL | None = None
        self._admin: Any = None  # a psycopg connection to the maintenance database
        self._lock = threading.Lock()
        self._token = secrets.token_hex(4)  # names stay apart on a shared server
        self._counter = itertools.count(1)
        self._made: set[str] = set()
        self._template: str | None = None

    @classmethod
    def from_environment(cls) -> PostgresCluster:
        """The server in `MUDAMETER_TEST_POSTGRES_URL`, else a cluster of its own."""
        given = os.environ.get(URL_VARIABLE)
        if given:
            return cls(server_url=given)
        try:
            return cls.own()
        except PostgresUnavailableError as error:
            raise PostgresUnavailableError(f"{error} and {URL_VARIABLE} is not set") from None

    @classmethod
    def own(cls) -> PostgresCluster:
        """A cluster of its own whatever the environment says (a test that restarts it)."""
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise PostgresUnavailableError(
                "PostgreSQL is not installed (apt-get install postgresql)"
            )
        return cls(bin_dir=bin_dir)

    @property
    def is_own(self) -> bool:
        """Whether this session runs the server itself (so it may stop and start it)."""
        return self._given_url is None

    # Start and stop

    def start(self) -> None:
        if self._given_url is not None:
            self._server = make_url(self._given_url).set(drivername=DRIVER)
        else:
            self._start_own()
        self._admin = self._connect()

    def _start_own(self) -> None:
        assert self._bin_dir is not None
        self._sweep_orphans()
        folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
        self._folder = folder
        (folder / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
        as_root = os.geteuid() == 0
        if as_root:
            shutil.chown(folder, "postgres", "postgres")
        data = folder / "data"
        self._run(
            "initdb",
            "--pgdata",
            str(data),
            "--username",
            "postgres",
            "--auth",
            "trust",  # a throwaway cluster on loopback and a private socket folder
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        )
        for _attempt in range(5):  # the free port may be taken between the probe and the bind
            port = _free_port()
            settings = {
                **SERVER_SETTINGS,
                "port": str(port),
                "unix_socket_directories": f"'{folder}'",
            }
            with (data / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
                conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
            started = self._run(
                "pg_ctl",
                "--pgdata",
                str(data),
                "--log",
                str(folder / "server.log"),
                "--wait",
                "--timeout",
                str(START_TIMEOUT),
                "start",
                check=False,
            )
            if started.returncode == 0:
                break
        else:
            raise RuntimeError(f"PostgreSQL did not start:\n{self.server_log()}")
        self._server = URL.create(DRIVER, username="postgres", host="127.0.0.1", port=port)
        self._wait_ready()

    def _sweep_orphans(self) -> None:
        """Stop and remove the clusters of test sessions that died without cleaning up.

        A session killed (SIGTERM from a timeout, SIGKILL) runs no finalizer; its
        server would keep running until the machine stops.
        """
        for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
            try:
                owner = int((folder / OWNER_FILE).read_text(encoding="ascii"))
            except (OSError, ValueError):
                continue  # not one of ours, or still being made
            if _alive(owner):
                continue
            self._folder = folder
            try:
                self._stop_own()
            finally:
                self._folder = None

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        assert self._bin_dir is not None and self._folder is not None
        command = [str(self._bin_dir / program), *args]
        if os.geteuid() == 0:  # the server refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command,
            cwd=self._folder,  # postgres may not be allowed into the caller's folder
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self._connect().close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Drop every database made here; remove a cluster of its own with its folder."""
        if self._admin is not None:
            if self._folder is None:  # a shared server: leave it as it was found
                for name in sorted(self._made):
                    with contextlib.suppress(Exception):
                        self._drop(name)
            self._admin.close()
            self._admin = None
        if self._folder is not None:
            self._stop_own()
            self._folder = None

    def stop_server(self) -> None:
        """Stop the server of a cluster of its own (fast: open connections are ended)."""
        assert self._folder is not None, "only a cluster of its own can be stopped"
        self._run(
            "pg_ctl", "--pgdata", str(self._folder / "data"), "--mode", "fast", "--wait", "stop"
        )

    def start_server(self) -> None:
        """Start it again, and reconnect to its maintenance database."""
        assert self._folder is not None, "only a cluster of its own can be started"
        data, log = str(self._folder / "data"), str(self._folder / "server.log")
        self._run("pg_ctl", "--pgdata", data, "--log", log, "--wait", "start")
        with contextlib.suppress(Exception):
            self._admin.close()
        self._admin = self._connect()

    def _stop_own(self) -> None:
        assert self._folder is not None
        if (self._folder / "data" / "postmaster.pid").exists():
            data = str(self._folder / "data")
            self._run("pg_ctl", "--pgdata", data, "--mode", "immediate", "stop", check=False)
        shutil.rmtree(self._folder, ignore_errors=True)

    def server_log(self) -> str:
        if self._folder is None:
            return ""
        log = self._folder / "server.log"
        return log.read_text(errors="replace") if log.exists() else ""

    # Databases

    @property
    def server_url(self) -> str:
        """The server, no database named: `postgresql+psycopg://user@host:port`."""
        return self._url(None)

    def create_database(self, template: str | None = None) -> str:
        """A new database (empty, or a copy of `template`); its SQLAlchemy URL."""
        name = f"mudameter_{self._token}_{next(self._counter)}"
        with self._lock:
            sql = f'CREATE DATABASE "{name}"'
            if template is not None:
                sql += f' TEMPLATE "{template}"'
                if self._admin.info.server_version >= 150000:
                    # Copies the files (two cheap checkpoints with fsync off) instead of
                    # writing every page of the template to the WAL: about twice as fast.
                    sql += " STRATEGY FILE_COPY"
            self._made.add(name)
            self._admin.execute(sql)
        return self._url(name)

    def migrated_database(self) -> str:
        """A new database at the newest schema: a copy of one migrated once per session."""
        if self._template is None:
            url = self.create_database()
            opened = open_store(url)  # the app's own migrations, as on a first start
            opened.close()  # no connection may stay on a template while it is copied
            self._template = _name(url)
        return self.create_database(template=self._template)

    def drop_database(self, url: str) -> None:
        name = _name(url)
        with self._lock:
            self._drop(name)

    def _drop(self, name: str) -> None:
        # FORCE: a test's stray pool or server thread must not keep the database alive.
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._made.discard(name)

    def _url(self, database: str | None) -> str:
        assert self._server is not None, "start() first"
        return self._server.set(database=database).render_as_string(hide_password=False)

    def _connect(self) -> Any:
        import psycopg

        assert self._server is not None
        admin = self._server.set(drivername="postgresql", database=self._server.database)
        if admin.database is None:
            admin = admin.set(database="postgres")
        return psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True)


def _name(url: str) -> str:
    database = make_url(url).database
    assert database, f"no database in {url}"
    return database
