"""Shared fixtures: offscreen Qt, a fresh database per test, a controllable clock."""

from __future__ import annotations

import os

# Set before anything imports Qt: every Qt test runs without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore, open_store, sqlite_url


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 27, 9, 50, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[OpenedStore]:
    opened = open_store(sqlite_url(tmp_path / "mudameter.sqlite3"))
    yield opened
    opened.close()


@pytest.fixture
def service(store: OpenedStore, clock: FakeClock) -> MeterService:
    return MeterService(store.engine, ZoneInfo("Europe/Berlin"), clock=clock)
