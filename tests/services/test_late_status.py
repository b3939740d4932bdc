"""A host's click that waited (the desktop app offline) is recorded at its own time.

The team server accepts a local status with `at`; it goes into the meeting of
that time, the buckets from then on equal the definition, and sent twice it
counts once (SPEC §7, issue 13).
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from mudameter_desktop.domain.statuses import Counts, ParticipantKind, Status
from mudameter_desktop.services.errors import InvalidInputError, NotFoundError
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore, open_store, sqlite_url
from mudameter_desktop.store.tables import StatusChange
from tests.conftest import FakeClock
from tests.services.definition import differences, lifetimes, recomputed, stored

LOCAL = ParticipantKind.LOCAL


def test_a_late_click_counts_from_its_own_time(service: MeterService, clock: FakeClock) -> None:
    engaged = service.record_status(Status.ENGAGED, kind=LOCAL)  # 09:50, the 10:00 slot
    clock.advance(minutes=20)  # 10:10
    made = clock.now - timedelta(minutes=6, seconds=30)  # 10:03:30, clicked while offline
    late = service.record_status(Status.DISENGAGED, engaged.participant_id, kind=LOCAL, at=made)
    assert late.participant_id == engaged.participant_id
    assert late.meeting_id == engaged.meeting_id
    assert late.minute == made.replace(second=0, microsecond=0)
    assert late.bucket.counts == Counts(engaged=1, disengaged=1)  # both held in 10:03
    clock.advance(minutes=1)
    samples = {
        s.minute.minute: s.counts
        for s in service.history.meeting_detail(engaged.meeting_id).engagement_samples
    }
    assert samples[2] == Counts(engaged=1)
    assert samples[4] == samples[10] == Counts(disengaged=1)
    assert differences(stored(service.engine), recomputed(service.engine, clock.now)) == []
    assert service.live_view(engaged.participant_id).status is Status.DISENGAGED


def test_a_click_sent_twice_counts_once(service: MeterService, clock: FakeClock) -> None:
    first = service.record_status(Status.ENGAGED, kind=LOCAL)
    clock.advance(minutes=5)
    made = clock.now - timedelta(minutes=2)
    once = service.record_status(Status.SPEAKING, first.participant_id, kind=LOCAL, at=made)
    clock.advance(seconds=30)  # the answer was lost: the app sends it again
    again = service.record_status(Status.SPEAKING, first.participant_id, kind=LOCAL, at=made)
    assert again.participant_id == once.participant_id
    assert again.meeting_id == once.meeting_id
    with service.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(StatusChange)) == 2


def test_a_late_click_reaches_a_meeting_that_has_ended(
    service: MeterService, clock: FakeClock
) -> None:
    """Offline through the end of the meeting: its totals are the definition's too."""
    first = service.record_status(Status.ENGAGED, kind=LOCAL)  # the 10:00-11:00 slot
    clock.advance(hours=3)  # 12:50: that meeting is complete
    made = datetime(2026, 11, 27, 10, 20, tzinfo=UTC)
    late = service.record_status(Status.DISENGAGED, first.participant_id, kind=LOCAL, at=made)
    assert late.meeting_id == first.meeting_id
    summary = service.history.summary(first.meeting_id)
    assert summary.totals == Counts(engaged=20, disengaged=40)  # 10:00-10:19, 10:20-10:59
    assert differences(stored(service.engine), recomputed(service.engine, clock.now)) == []


def test_a_late_click_in_a_later_meeting_leaves_the_earlier_one_then(
    service: MeterService, clock: FakeClock
) -> None:
    first = service.record_status(Status.ENGAGED, kind=LOCAL)  # the 10:00 slot
    clock.advance(minutes=15)  # 10:05
    explicit = service.start_meeting(title="Stand-up", duration_minutes=15)
    clock.advance(minutes=20)  # 10:25: the clicks made meanwhile arrive
    made = explicit.starts_at + timedelta(minutes=2)
    late = service.record_status(Status.SPEAKING, first.participant_id, kind=LOCAL, at=made)
    assert late.meeting_id == explicit.id
    assert late.participant_id != first.participant_id
    people = lifetimes(service.engine)
    assert people[first.participant_id][1] == made  # left the slot's meeting at the click
    assert people[late.participant_id][0] == made
    assert differences(stored(service.engine), recomputed(service.engine, clock.now)) == []


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(seconds=4), True),  # a clock a little ahead: taken as now
        (timedelta(seconds=6), False),
        (-timedelta(days=7) + timedelta(minutes=1), True),
        (-timedelta(days=7, minutes=1), False),
    ],
)
def test_when_a_click_may_have_been_made(
    service: MeterService, clock: FakeClock, offset: timedelta, accepted: bool
) -> None:
    made = clock.now + offset
    if accepted:
        service.record_status(Status.ENGAGED, kind=LOCAL, at=made)
        with service.engine.connect() as connection:
            assert connection.scalar(select(StatusChange.at)) == min(made, clock.now)
    else:
        with pytest.raises(InvalidInputError):
            service.record_status(Status.ENGAGED, kind=LOCAL, at=made)
        with service.engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(StatusChange)) == 0


# -- the property: clicks that waited, sent in order, equal the definition ------

steps = st.lists(
    st.one_of(
        st.tuples(st.just("lan"), st.integers(0, 2), st.sampled_from(list(Status))),
        st.tuples(st.just("host"), st.none(), st.sampled_from(list(Status))),  # kept offline
        st.tuples(st.just("send"), st.booleans(), st.none()),  # online again; True: resent
        st.tuples(st.just("wait"), st.integers(1, 25 * 60), st.none()),  # seconds
        st.tuples(st.just("end"), st.none(), st.none()),
        st.tuples(st.just("start"), st.integers(1, 90), st.none()),  # minutes
    ),
    max_size=30,
)


def _lan(service: MeterService, chain: list[str], status: Status) -> None:
    answer = service.record_status(status, chain[-1] if chain else None).participant_id
    if not chain or answer != chain[-1]:
        chain.append(answer)


def _send(service: MeterService, host: list[str], waiting: list[tuple[Status, datetime]]) -> None:
    for status, made in waiting:
        answer = service.record_status(
            status, host[-1] if host else None, kind=LOCAL, at=made
        ).participant_id
        if answer not in host:  # a click sent again answers its first participant
            host.append(answer)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, first_minute=st.integers(0, 59))
def test_late_clicks_equal_the_definition(
    steps: list[tuple[str, object, Status | None]], first_minute: int
) -> None:
    zone = ZoneInfo("Europe/Berlin")
    clock = FakeClock(datetime(2026, 11, 27, 9, first_minute, 17, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as folder:
        store: OpenedStore = open_store(sqlite_url(Path(folder) / "db.sqlite3"))
        service = MeterService(store.engine, zone, clock=clock)
        people: dict[int, list[str]] = {}
        host: list[str] = []
        waiting: list[tuple[Status, datetime]] = []
        for action, number, status in steps:
            if action == "lan" and isinstance(number, int) and status is not None:
                _lan(service, people.setdefault(number, []), status)
            elif action == "host" and status is not None:
                waiting.append((status, clock.advance(seconds=1)))
            elif action == "send":
                _send(service, host, waiting)
                if number:  # the answers were lost: every click is sent again
                    _send(service, host, waiting)
                waiting = []
            elif action == "wait" and isinstance(number, int):
                clock.advance(seconds=number)
            elif action == "end":
                with contextlib.suppress(NotFoundError):
                    service.end_meeting()
            elif action == "start" and isinstance(number, int):
                service.start_meeting(duration_minutes=number)
        _send(service, host, waiting)
        clock.advance(seconds=1)
        service.settle()
        assert differences(stored(store.engine), recomputed(store.engine, clock.now)) == []
        participants = lifetimes(store.engine)
        with store.engine.connect() as connection:
            changes = connection.scalar(select(func.count()).select_from(StatusChange))
        store.close()
    clicks = sum(1 for action, _, _ in steps if action in {"lan", "host"})
    assert changes == clicks  # every click once, resent or not
    for earlier, later in itertools.pairwise(host):  # the host is in one meeting at a time
        assert participants[earlier][1] <= participants[later][0]
