"""The stored buckets always equal the definition recomputed from raw changes."""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.services.errors import NotFoundError
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import open_store, sqlite_url
from tests.conftest import FakeClock
from tests.services.definition import (
    explicit_meetings,
    lifetimes,
    meeting_ids,
    recomputed,
    seen_by,
)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("status"), st.integers(0, 3), st.sampled_from(list(Status))),
        st.tuples(st.just("visit"), st.integers(0, 3), st.none()),
        st.tuples(st.just("wait"), st.integers(1, 25 * 60), st.none()),  # seconds
        st.tuples(st.just("end"), st.none(), st.none()),
        st.tuples(st.just("start"), st.integers(1, 90), st.none()),  # minutes
        st.tuples(st.just("restart"), st.none(), st.none()),
    ),
    max_size=30,
)


def act(service: MeterService, chain: list[str], status: Status | None) -> None:
    """One person clicks or visits with their last id; a new id joins their chain."""
    sent = chain[-1] if chain else None
    if status is not None:
        answer = service.record_status(status, sent).participant_id
    else:
        answer = service.visit(sent).participant_id
    if answer != sent:
        chain.append(answer)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, first_minute=st.integers(0, 59))
def test_stored_buckets_equal_the_definition(
    steps: list[tuple[str, int | None, Status | None]], first_minute: int
) -> None:
    zone = ZoneInfo("Asia/Kolkata")
    clock = FakeClock(datetime(2026, 11, 27, 9, first_minute, 17, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(sqlite_url(Path(folder) / "db.sqlite3"))
        service = MeterService(store.engine, zone, clock=clock)
        people: dict[int, list[str]] = {}  # each person's participants, in order
        for action, number, status in steps:
            if action in {"status", "visit"} and number is not None:
                act(service, people.setdefault(number, []), status)
            elif action == "wait" and number is not None:
                clock.advance(seconds=number)
            elif action == "end":
                with contextlib.suppress(NotFoundError):  # no meeting running
                    service.end_meeting()
            elif action == "start" and number is not None:
                service.start_meeting(duration_minutes=number)
            else:  # the app restarts (which takes a moment): tallies are rebuilt
                clock.advance(seconds=2)
                service = MeterService(store.engine, zone, clock=clock)
        clock.advance(seconds=1)
        ids = meeting_ids(store.engine)
        assert seen_by(service.history, ids) == recomputed(store.engine, clock.now)
        participants = lifetimes(store.engine)
        explicit = explicit_meetings(store.engine)
        store.close()
    # A person is in one meeting at a time: each participant of theirs has
    # left (or expired) by the time the next one is made.
    for chain in people.values():
        for earlier, later in itertools.pairwise(chain):
            assert participants[earlier][1] <= participants[later][0]
    # Explicit meetings never overlap.
    for (_, _, first_ends), (_, second_starts, _) in itertools.pairwise(explicit):
        assert first_ends <= second_starts
