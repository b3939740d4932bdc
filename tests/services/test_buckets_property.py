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
from sqlalchemy import select

from mudameter_desktop.domain.buckets import StatusChange as RawChange
from mudameter_desktop.domain.buckets import recompute
from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.services.errors import NotFoundError
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import open_store, sqlite_url
from mudameter_desktop.store.models import Meeting, Participant, StatusChange
from tests.conftest import FakeClock

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
        now = clock.now
        stored = {
            meeting.id: {
                sample.minute: Counts(sample.speaking, sample.engaged, sample.disengaged)
                for sample in service.history.meeting_detail(meeting.id).engagement_samples
            }
            for meeting in service.history.list_meetings(1).items
        }
        with store.sessions() as session:
            for meeting in session.scalars(select(Meeting)):
                changes = [
                    RawChange(change.participant_id, Status(change.status), change.at)
                    for change in session.scalars(
                        select(StatusChange)
                        .where(StatusChange.meeting_id == meeting.id)
                        .order_by(StatusChange.at, StatusChange.id)
                    )
                ]
                expires = {
                    p.id: p.expires_at
                    for p in session.scalars(
                        select(Participant).where(Participant.meeting_id == meeting.id)
                    )
                }
                expected = recompute(meeting.starts_at, meeting.ends_at, changes, expires, now)
                assert stored[meeting.id] == expected
            lifetimes = {
                p.id: (p.created_at, p.expires_at) for p in session.scalars(select(Participant))
            }
            explicit = session.scalars(
                select(Meeting).where(Meeting.slot_start.is_(None)).order_by(Meeting.starts_at)
            ).all()
        store.close()
    # A person is in one meeting at a time: each participant of theirs has
    # left (or expired) by the time the next one is made.
    for chain in people.values():
        for earlier, later in itertools.pairwise(chain):
            assert lifetimes[earlier][1] <= lifetimes[later][0]
    # Explicit meetings never overlap.
    for first, second in itertools.pairwise(explicit):
        assert first.ends_at <= second.starts_at
