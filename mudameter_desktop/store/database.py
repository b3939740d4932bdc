"""Opening the store: engine, SQLite pragmas, migrations, damaged-file recovery."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

if TYPE_CHECKING:  # Alembic costs ~0.3 s and ~19 MB: imported only when migrating
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000
PRIVATE_FILE = 0o600  # every click and participant: the user's alone
# PostgreSQL: the advisory lock that lets one of several starting processes migrate.
MIGRATION_LOCK_KEY = 0x6D75_6461_6D65_7465  # 'mudamete'
MIGRATION_LOCK_TIMEOUT_S = 300
POOL_SIZE = 10  # connections per process to a server database; each handler thread takes one
POOL_RECYCLE_S = 1800  # renewed before firewalls and proxies drop idle connections
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout runs out
# The newest migration. A database already there is opened without importing
# Alembic (the usual start); tests check this against Alembic's own head.
HEAD_REVISION = "0007"


class StoreError(Exception):
    """The store cannot be opened; the message is meant for the user."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer version of the app."""


class StoreInUseError(StoreError):
    """Another process has the database open."""


@dataclass(frozen=True)
class OpenedStore:
    engine: Engine
    moved_aside: Path | None  # where a damaged database file was moved, to tell the user
    lock: IO[bytes] | None = None  # held while open: one process per SQLite file

    @property
    def sessions(self) -> sessionmaker[Session]:
        """ORM sessions on this store (tests, tools); the app itself runs on Core only."""
        from sqlalchemy.orm import sessionmaker  # noqa: PLC0415 - ~10 MB the app does not need

        return sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()
        if self.lock is not None:
            self.lock.close()  # closing the file releases the lock


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def open_store(url: str) -> OpenedStore:
    """Open (creating or upgrading) the database at `url`.

    A SQLite file that is not a healthy database is moved aside with a
    timestamped name and a fresh one is created, so a damaged file never
    makes the app crash on every start.
    """
    path = _sqlite_file(url)
    moved_aside = None
    lock = None
    if path is not None:
        _check_writable(path)
        lock = _lock(path)
        # SQLite gives the -wal and -shm files the database file's mode; a file
        # that cannot be opened is left for SQLite to report.
        with contextlib.suppress(OSError):
            _private_file(path).close()
    try:
        if path is not None and not _is_healthy(path):
            moved_aside = _move_aside(path)
        try:
            engine = _migrated_engine(url)
        except DatabaseError as error:
            if path is None or isinstance(error.orig, sqlite3.OperationalError):
                raise StoreError(f"Cannot open the database: {error.orig}") from error
            moved_aside = _move_aside(path)
            engine = _migrated_engine(url)
    except BaseException:
        if lock is not None:
            lock.close()
        raise
    return OpenedStore(engine, moved_aside, lock)


def _lock(path: Path) -> IO[bytes]:
    """An exclusive lock beside the file, released when closed or when the process dies.

    Each process keeps the open meetings' buckets in memory, so two processes
    writing one file would overwrite each other's counts; the second is refused.
    """
    lock = _private_file(path.with_name(path.name + ".lock"))
    try:
        if sys.platform == "win32":
            import msvcrt  # noqa: PLC0415 - the Windows way

            msvcrt.locking(lock.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl  # noqa: PLC0415 - the POSIX way

            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        lock.close()
        raise StoreInUseError(
            f"The database {path} is in use by another Muda Meter; quit that one first."
        ) from error
    return lock


def _private_file(path: Path) -> IO[bytes]:
    """`path` opened for appending, created 0600 (or made so): the user's alone."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, PRIVATE_FILE)
    return os.fdopen(descriptor, "a+b")


def head_revision() -> str:
    head = _scripts().get_current_head()
    if head is None:
        raise StoreError("The app was installed without its database migrations.")
    return head


def _migrated_engine(url: str) -> Engine:
    engine = make_engine(url)
    try:
        if _at_head(engine):
            return engine
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                # A table copy (batch migration) would otherwise cascade deletes
                # into child tables; the check below proves nothing dangles.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            with _transactional_ddl(connection), _migration_lock(engine):
                _upgrade(connection)
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                if connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise StoreError("A migration left dangling references; nothing was used.")
                connection.commit()
    except BaseException:
        engine.dispose()
        raise
    return engine


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, one process at a time migrates (or checks it need not).

    Several server processes starting at once on an empty database would each
    create the tables, and all but one fail on `alembic_version`. A session
    advisory lock on a connection of its own (so no migration transaction
    holds it) queues them: the first migrates, the others then find the head.
    It is released after, or by the server when the process dies.
    """
    if engine.dialect.name != "postgresql":
        yield  # SQLite: BEGIN IMMEDIATE in `_upgrade`, and one process per file anyway
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
        holder.exec_driver_sql(f"SET lock_timeout = '{MIGRATION_LOCK_TIMEOUT_S}s'")
        try:
            holder.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
        except DatabaseError as error:
            holder.invalidate()  # not back to the pool with this session's lock_timeout
            if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            raise StoreError(
                f"Another process has been migrating the database for over "
                f"{MIGRATION_LOCK_TIMEOUT_S} s; try again when it is done ({error.orig})."
            ) from error
        try:
            yield
        finally:
            with contextlib.suppress(DatabaseError):  # a lost connection released it already
                holder.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
                holder.exec_driver_sql("RESET lock_timeout")  # the pool reuses the connection


@contextmanager
def _transactional_ddl(connection: Connection) -> Iterator[None]:
    """Run the migrations as one SQLite transaction, DDL included.

    Left to itself, the sqlite3 driver commits every CREATE and ALTER on its
    own: a process killed while migrating left tables without their revision,
    and every later start failed on "table already exists".
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    driver: Any = connection.connection.driver_connection
    previous = driver.isolation_level
    driver.isolation_level = None  # no implicit BEGIN or COMMIT: `_upgrade` says when
    try:
        yield
    finally:
        driver.isolation_level = previous


def _at_head(engine: Engine) -> bool:
    """Whether the database already has the newest schema: nothing to migrate (and no
    Alembic to import, nor the migration lock to queue for, on PostgreSQL)."""
    if engine.dialect.name not in ("sqlite", "postgresql"):
        return False
    with engine.connect() as connection:
        has_table = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            if engine.dialect.name == "sqlite"
            else "SELECT to_regclass('alembic_version') IS NOT NULL"
        ).scalar()
        versions = (
            connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
            if has_table
            else []
        )
        connection.rollback()
    return list(versions) == [HEAD_REVISION]


def _upgrade(connection: Connection) -> None:
    from alembic import command  # noqa: PLC0415 - only when migrating
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    with connection.begin():
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # one writer migrates at a time
        current = MigrationContext.configure(connection).get_current_revision()
        known = {script.revision for script in _scripts().walk_revisions()}
        if current is not None and current not in known:
            raise SchemaTooNewError(
                f"The database is from a newer Muda Meter (schema {current}); "
                "update the app to open it. Nothing was changed."
            )
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    head = _scripts().get_current_head()
    if current != head:  # the console's one line; Alembic's own steps go to the log file
        was = "created with" if current is None else f"upgraded from schema {current} to"
        log.info("Database %s schema %s", was, head)


def make_engine(url: str) -> Engine:
    """An engine; on SQLite with WAL, foreign keys, a busy timeout, safe sync."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A fixed pool: overflow connections were opened and closed under load
        # (a server process forked per request). No ping before each checkout (a
        # round trip per transaction): a connection the server dropped fails one
        # request with a 503 and SQLAlchemy then renews the whole pool.
        return create_engine(url, pool_size=POOL_SIZE, max_overflow=0, pool_recycle=POOL_RECYCLE_S)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # In WAL mode NORMAL loses nothing when the process is killed (only an
    # OS crash or power cut can drop the last transactions).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config() -> Config:
    from alembic.config import Config  # noqa: PLC0415 - only when migrating

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - only when migrating

    return ScriptDirectory.from_config(_alembic_config())


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def _check_writable(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"Cannot create the data folder {path.parent}: {error}") from error
    target = path if path.exists() else path.parent
    if not os.access(target, os.W_OK):
        raise StoreError(f"The data location {target} is read-only; choose another --data-dir.")


def _is_healthy(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return True
    with path.open("rb") as file:
        if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            return False
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return bool(connection.execute("PRAGMA quick_check").fetchone() == ("ok",))
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        return False


def _move_aside(path: Path) -> Path:
    stamp = datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
        counter += 1
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            sidecar.rename(target.with_name(target.name + suffix))
    log.warning("Database %s was damaged; moved it to %s and started a fresh one", path, target)
    return target
