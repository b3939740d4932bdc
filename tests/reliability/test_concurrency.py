"""Concurrency: 50 HTTP clients and the tray recording at once, for 10 seconds."""

from __future__ import annotations

import json
import logging
import random
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import tzlocal
from sqlalchemy import func, select

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.server import ServerThread
from mudameter_desktop.domain.buckets import StatusChange as RawChange
from mudameter_desktop.domain.buckets import recompute
from mudameter_desktop.domain.statuses import Counts, ParticipantKind, Status
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore
from mudameter_desktop.store.models import Meeting, Participant, StatusChange
from tests.reliability.conftest import HERE, PYTHON

CLIENTS = 50
SECONDS = 10.0
STATUSES = [status.value for status in Status]


class FreezableClock:
    """The real time until `freeze()`: then reads and the check agree on "now"."""

    def __init__(self) -> None:
        self.frozen: datetime | None = None

    def __call__(self) -> datetime:
        return self.frozen or datetime.now(UTC)

    def freeze(self) -> datetime:
        self.frozen = datetime.now(UTC)
        return self.frozen


@pytest.fixture
def clock() -> FreezableClock:
    return FreezableClock()


@pytest.fixture
def server(
    store: OpenedStore, clock: FreezableClock
) -> Iterator[tuple[ServerThread, MeterService]]:
    service = MeterService(store.engine, tzlocal.get_localzone(), clock=clock)
    thread = ServerThread(service, RoomAccess("concurrency-key"), "127.0.0.1", 0)
    thread.start()
    yield thread, service
    thread.stop()


def tray_clicks(service: MeterService, stop: threading.Event, clicks: list[float]) -> None:
    """Clicks in the tray, the way the UI's worker makes them; their durations in `clicks`."""
    rng = random.Random(0)  # noqa: S311 - a click pattern, not a secret
    participant: str | None = None
    while not stop.wait(0.02):  # a person clicking fast, not a busy loop
        started = time.perf_counter()
        recorded = service.record_status(
            Status(rng.choice(STATUSES)), participant, ParticipantKind.LOCAL
        )
        clicks.append(time.perf_counter() - started)
        participant = recorded.participant_id


@pytest.mark.slow
def test_fifty_clients_and_the_tray_for_ten_seconds(
    server: tuple[ServerThread, MeterService],
    store: OpenedStore,
    clock: FreezableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    thread, service = server
    clients = subprocess.Popen(  # a process of their own, as real clients are
        [
            PYTHON,
            str(HERE / "load_clients.py"),
            thread.local_url.rstrip("/"),
            str(CLIENTS),
            str(SECONDS),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    stop = threading.Event()
    clicks: list[float] = []
    tray = threading.Thread(target=tray_clicks, args=(service, stop, clicks))
    tray.start()
    try:
        output, _ = clients.communicate(timeout=SECONDS + 60)
    finally:
        stop.set()
        tray.join(30)
    assert clients.returncode == 0
    report = json.loads(output)
    codes = {int(code): count for code, count in report["codes"].items()}
    served = sum(codes.values())
    clicks.sort()
    print(
        f"\n{served} HTTP requests from {CLIENTS} clients and {len(clicks)} tray clicks "
        f"in {SECONDS:.0f} s; tray click median {statistics.median(clicks) * 1000:.1f} ms, "
        f"max {clicks[-1] * 1000:.0f} ms"
    )
    assert report["error_count"] == 0, report["errors"]
    assert set(codes) == {200}, codes
    assert served > CLIENTS * 2
    assert len(clicks) > 50
    assert "database is locked" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text

    # Stop time, so the service's reads below settle to the same minute the
    # definition is computed for (a minute boundary in between would add one).
    now = clock.freeze()
    service.settle()
    with store.sessions() as session:
        per_slot = session.execute(
            select(Meeting.slot_start, func.count(Meeting.id))
            .where(Meeting.slot_start.is_not(None))
            .group_by(Meeting.slot_start)
        ).all()
        assert per_slot and all(count == 1 for _, count in per_slot)
        meetings = session.scalars(select(Meeting)).all()
        for meeting in meetings:
            changes = [
                RawChange(change.participant_id, Status(change.status), change.at)
                for change in session.scalars(
                    select(StatusChange).where(StatusChange.meeting_id == meeting.id)
                )
            ]
            expires = dict(
                session.execute(
                    select(Participant.id, Participant.expires_at).where(
                        Participant.meeting_id == meeting.id
                    )
                ).all()
            )
            expected = recompute(meeting.starts_at, meeting.ends_at, changes, expires, now)
            stored = {
                sample.minute: Counts(sample.speaking, sample.engaged, sample.disengaged)
                for sample in service.history.meeting_detail(meeting.id).engagement_samples
            }
            assert stored == expected
            # Distinct participants: nobody counts twice in a column, however often they clicked.
            people = len(expires)
            assert people <= CLIENTS + 1
            for counts in stored.values():
                assert max(counts.speaking, counts.engaged, counts.disengaged) <= people
