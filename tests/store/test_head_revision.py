"""A database at the newest schema opens without Alembic (it costs ~0.3 s at start)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mudameter_desktop.store.database import HEAD_REVISION, head_revision, open_store, sqlite_url

SCRIPT = """
import sys
from mudameter_desktop.store.database import open_store, sqlite_url
store = open_store(sqlite_url(sys.argv[1]))
store.close()
print(any(name == "alembic" or name.startswith("alembic.") for name in sys.modules))
"""


def test_the_fast_path_knows_the_newest_migration() -> None:
    assert head_revision() == HEAD_REVISION


def test_a_database_at_the_newest_schema_opens_without_alembic(tmp_path: Path) -> None:
    database = tmp_path / "mudameter.sqlite3"
    open_store(sqlite_url(database)).close()  # created and migrated: Alembic runs
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(database)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "False"
