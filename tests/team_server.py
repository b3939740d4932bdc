"""A real team server for client tests: `mudameter --headless` on a throwaway PostgreSQL
database, with one room made by `mudameter rooms add … --json` (its host link).

    server = TeamServer.start(postgres_cluster, tmp_path)
    server.host_link, server.stop(), server.resume(), server.status_changes()
    server.close()

`stop` ends the process (SIGTERM) and `resume` starts it again on the same port and
database: a server that goes away and comes back.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select

from mudameter_desktop.store.database import make_engine
from mudameter_desktop.store.tables import Meeting, Room, StatusChange
from tests.postgres import PostgresCluster
from tests.reliability.conftest import App, answers_health, free_port, headless_args, wait_for

ROOM_KEY = "team-server-room-key-0123456789abcdef"  # the room `default`'s, ≥ 22 characters


@dataclass
class TeamServer:
    cluster: PostgresCluster
    data_dir: Path
    database_url: str
    engine: Engine
    port: int
    host_link: str
    host_token: str
    participant_key: str
    slug: str
    app: App | None = None

    @classmethod
    def start(cls, cluster: PostgresCluster, tmp_path: Path) -> TeamServer:
        url = cluster.migrated_database()
        port = free_port()
        added = subprocess.run(
            [
                sys.executable,
                "-m",
                "mudameter_desktop",
                "rooms",
                "add",
                "Team A",
                "--timezone",
                "Europe/Berlin",
                "--json",
                "--database-url",
                url,
                "--public-url",
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        room: dict[str, Any] = json.loads(added.stdout)
        server = cls(
            cluster=cluster,
            data_dir=tmp_path / "team-server",
            database_url=url,
            engine=make_engine(url),
            port=port,
            host_link=room["host_link"],
            host_token=room["host_token"],
            participant_key=room["participant_key"],
            slug=room["slug"],
        )
        server.resume()
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def room_url(self) -> str:
        return f"{self.url}/rooms/{self.slug}"

    def resume(self) -> None:
        """Start the server process (again), and wait until it answers."""
        args = headless_args(
            self.data_dir,
            self.port,
            "--database-url",
            self.database_url,
            "--room-key",
            ROOM_KEY,
            "--rate-limit",
            "0",
        )
        self.app = App(args)
        wait_for(partial(answers_health, self.url), timeout=60, what="the team server")

    def stop(self) -> None:
        """End the server process; clients now get connection errors."""
        if self.app is None:
            return
        app, self.app = self.app, None
        if app.process.poll() is None:
            app.signal(signal.SIGTERM)
        try:
            app.wait(20)
        except subprocess.TimeoutExpired:
            app.end()

    def close(self) -> None:
        self.stop()
        self.engine.dispose()
        with contextlib.suppress(Exception):
            self.cluster.drop_database(self.database_url)

    def get(self, path: str) -> httpx.Response:
        """A GET in the room, as its host."""
        return httpx.get(
            f"{self.room_url}{path}",
            headers={"Authorization": f"Bearer {self.host_token}"},
            timeout=10,
        )

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """A POST in the room with the host's token (as another client of the room)."""
        return httpx.post(
            f"{self.room_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.host_token}"},
            timeout=10,
        )

    def status_changes(self) -> list[tuple[str, str, datetime]]:
        """Every status change stored in the room: (participant id, status, at), in time order."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(StatusChange.participant_id, StatusChange.status, StatusChange.at)
                .join(Meeting, Meeting.id == StatusChange.meeting_id)
                .join(Room, Room.id == Meeting.room_id)
                .where(Room.slug == self.slug)
                .order_by(StatusChange.at, StatusChange.id)
            ).all()
        return [(row.participant_id, row.status, row.at) for row in rows]
