"""Several services on one PostgreSQL database are exactly right (SPEC §7, issue 12).

Each `MeterService` here has its own engine from `open_store(url)` on the same
database and shares nothing in memory with the others, like separate server
processes; they share one `FakeClock`, like processes on one machine. Requests
are routed to them at random, and the buckets must still equal SPEC §1's
definition recomputed from the raw status changes, one detected meeting per
slot, a renewed participant one participant wherever the renewal happened.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from mudameter_desktop.domain.meetings import PARTICIPANT_TTL, floor_minute, nearest_local_hour
from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.services.errors import NotFoundError
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore, open_store
from mudameter_desktop.store.tables import Meeting
from tests.conftest import FakeClock
from tests.postgres import PostgresCluster
from tests.services.definition import (
    differences,
    explicit_meetings,
    lifetimes,
    meeting_ids,
    recomputed,
    seen_by,
    slots_with_several_meetings,
    stored,
)

pytestmark = pytest.mark.pg

ZONE = ZoneInfo("Asia/Kolkata")  # local hours at hh:30 UTC: slots change at UTC hh:00
SPEAKING, ENGAGED, DISENGAGED = Status.SPEAKING, Status.ENGAGED, Status.DISENGAGED


class Team:
    """Two or three services, each with its own engine on one database (no shared memory)."""

    def __init__(self, url: str, size: int, clock: FakeClock) -> None:
        self.clock = clock
        self.stores: list[OpenedStore] = [open_store(url) for _ in range(size)]
        self.services = [self._service(index) for index in range(size)]

    def _service(self, index: int) -> MeterService:
        return MeterService(self.stores[index].engine, ZONE, clock=self.clock)

    def restart(self, index: int) -> None:
        """That process restarts: its memory is gone (its engine stays, like the database)."""
        self.services[index] = self._service(index)

    @property
    def engine(self) -> Engine:
        return self.stores[0].engine

    def close(self) -> None:
        for opened in self.stores:
            opened.close()


@contextlib.contextmanager
def team_on(cluster: PostgresCluster, size: int, clock: FakeClock) -> Iterator[Team]:
    url = cluster.migrated_database()
    team = Team(url, size, clock)
    try:
        yield team
    finally:
        team.close()
        cluster.drop_database(url)


@dataclass
class Known:
    """What the clients were told: each participant id's meeting and expiry."""

    meeting: dict[str, int] = field(default_factory=dict)
    expires: dict[str, datetime] = field(default_factory=dict)


def expected_meeting(team: Team, at: datetime) -> int | None:
    """The meeting detection gives at `at`, by SPEC §1, read from the database.

    An explicit meeting running at `at`, else the meeting of `at`'s slot
    (None if that does not exist yet: then the answer must have created it).
    """
    with team.engine.connect() as connection:
        explicit = connection.scalars(
            select(Meeting.id)
            .where(
                Meeting.slot_start.is_(None),
                Meeting.calendar_key.is_(None),
                Meeting.starts_at <= at,
                Meeting.ends_at > at,
            )
            .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
        ).first()
        if explicit is not None:
            return int(explicit)
        slot = connection.scalars(
            select(Meeting.id).where(Meeting.slot_start == nearest_local_hour(at, ZONE))
        ).first()
        return None if slot is None else int(slot)


def act(team: Team, index: int, chain: list[str], status: Status | None, known: Known) -> None:
    """One person clicks or visits through service `index` with their last id."""
    service = team.services[index]
    sent = chain[-1] if chain else None
    if status is not None:
        recorded = service.record_status(status, sent)
        answer, meeting_id, expires_at = (
            recorded.participant_id,
            recorded.meeting_id,
            recorded.expires_at,
        )
    else:
        visit = service.visit(sent)
        answer, meeting_id, expires_at = visit.participant_id, visit.meeting.id, visit.expires_at
    at = expires_at - PARTICIPANT_TTL  # the instant the service acted at
    assert meeting_id == expected_meeting(team, at), "the meeting detected now, by the database"
    if sent is not None and answer != sent:
        # A new participant only for an id that is no longer live in this meeting:
        # expired, or of another meeting (they moved on). Never because another
        # process renewed it and this one did not know.
        assert known.expires[sent] <= at or known.meeting[sent] != meeting_id, (
            f"a live participant of meeting {meeting_id} was replaced through service {index}"
        )
    if answer != sent:
        chain.append(answer)
    known.meeting[answer] = meeting_id
    known.expires[answer] = expires_at


def assert_buckets_equal_the_definition(team: Team, index: int) -> None:
    """Read through service `index` (which settles first): the definition, up to now."""
    ids = meeting_ids(team.engine)
    seen = seen_by(team.services[index].history, ids)
    expected = recomputed(team.engine, team.clock.now)
    assert differences(seen, expected) == [], f"read through service {index}"
    # What is in the table, not only what is shown.
    assert differences(stored(team.engine), expected) == [], "the engagement_sample rows"


Step = tuple[str, int | None, Status | None, int]

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("status"), st.integers(0, 4), st.sampled_from(list(Status)), st.integers(0, 5)
        ),
        st.tuples(st.just("visit"), st.integers(0, 4), st.none(), st.integers(0, 5)),
        st.tuples(st.just("wait"), st.integers(1, 25 * 60), st.none(), st.just(0)),  # seconds
        st.tuples(st.just("moment"), st.integers(1, 3000), st.none(), st.just(0)),  # ms
        st.tuples(st.just("end"), st.none(), st.none(), st.integers(0, 5)),
        st.tuples(st.just("start"), st.integers(1, 90), st.none(), st.integers(0, 5)),  # minutes
        st.tuples(st.just("restart"), st.none(), st.none(), st.integers(0, 5)),
        st.tuples(st.just("check"), st.none(), st.none(), st.integers(0, 5)),
    ),
    max_size=40,
)


@settings(
    max_examples=25,
    deadline=None,
    # No shrinking: each example makes a database, and a failing run would take
    # minutes to shrink. The falsifying script is printed as generated.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(script=steps, size=st.integers(2, 3), first_minute=st.integers(0, 59))
def test_services_on_one_database_store_the_definition(
    postgres_cluster: PostgresCluster, script: list[Step], size: int, first_minute: int
) -> None:
    clock = FakeClock(datetime(2026, 11, 27, 9, first_minute, 17, tzinfo=UTC))
    with team_on(postgres_cluster, size, clock) as team:
        people: dict[int, list[str]] = {}  # each person's participants, in order
        known = Known()
        for action, number, status, target in script:
            index = target % size
            if action in {"status", "visit"} and number is not None:
                act(team, index, people.setdefault(number, []), status, known)
            elif action == "wait" and number is not None:
                clock.advance(seconds=number)
            elif action == "moment" and number is not None:
                clock.advance(milliseconds=number)
            elif action == "end":
                with contextlib.suppress(NotFoundError):  # no meeting running
                    team.services[index].end_meeting()
            elif action == "start" and number is not None:
                team.services[index].start_meeting(duration_minutes=number)
            elif action == "check":
                assert_buckets_equal_the_definition(team, index)
            else:  # that process restarts (which takes a moment)
                clock.advance(seconds=2)
                team.restart(index)
        clock.advance(seconds=1)
        for index in range(size):
            assert_buckets_equal_the_definition(team, index)
        assert slots_with_several_meetings(team.engine) == []
        participants = lifetimes(team.engine)
        explicit = explicit_meetings(team.engine)
    # A person is in one meeting at a time: each participant of theirs has
    # left (or expired) by the time the next one is made, whichever process made it.
    for chain in people.values():
        for earlier, later in itertools.pairwise(chain):
            assert participants[earlier][1] <= participants[later][0]
    for (_, _, first_ends), (_, second_starts, _) in itertools.pairwise(explicit):
        assert first_ends <= second_starts


# -- the failures issue 12 measured, one by one --------------------------------


@pytest.fixture
def pair(postgres_cluster: PostgresCluster) -> Iterator[Team]:
    """Two services on one fresh database at 10:35:10 UTC: in the 16:00 Kolkata meeting."""
    clock = FakeClock(datetime(2026, 11, 27, 10, 35, 10, tzinfo=UTC))
    with team_on(postgres_cluster, 2, clock) as team:
        yield team


def bucket(team: Team, index: int, meeting_id: int, minute: datetime) -> Counts:
    samples = team.services[index].history.meeting_detail(meeting_id).engagement_samples
    found = [s for s in samples if s.minute == minute]
    assert found, f"no sample for {minute} through service {index}"
    return Counts(found[0].speaking, found[0].engaged, found[0].disengaged)


def six_people(team: Team) -> tuple[int, list[str]]:
    """1 speaking, 3 engaged, 2 disengaged in one minute, alternating between the services."""
    ids = []
    meeting_id = 0
    for number, status in enumerate([SPEAKING, ENGAGED, ENGAGED, ENGAGED, DISENGAGED, DISENGAGED]):
        team.clock.advance(seconds=1)
        recorded = team.services[number % 2].record_status(status)
        meeting_id = recorded.meeting_id
        ids.append(recorded.participant_id)
    return meeting_id, ids


def test_one_minute_counted_through_two_services_is_the_whole_room(pair: Team) -> None:
    minute = floor_minute(pair.clock.now)
    meeting_id, _ = six_people(pair)
    pair.clock.advance(seconds=1)
    assert bucket(pair, 0, meeting_id, minute) == Counts(1, 3, 2)  # not (1, 2, 2)
    assert bucket(pair, 1, meeting_id, minute) == Counts(1, 3, 2)
    assert stored(pair.engine)[meeting_id][minute] == Counts(1, 3, 2)


def test_the_answers_bucket_counts_clicks_made_through_the_other_service(pair: Team) -> None:
    six_people(pair)
    pair.clock.advance(seconds=1)
    last = pair.services[0].record_status(SPEAKING)  # a seventh person
    assert (last.bucket.speaking, last.bucket.engaged, last.bucket.disengaged) == (2, 3, 2)


@pytest.mark.parametrize("reader", [0, 1])
def test_minutes_after_are_carried_forward_from_everyone(pair: Team, reader: int) -> None:
    """Not each process's own tally over the other's: last writer wins no more."""
    minute = floor_minute(pair.clock.now)
    meeting_id, _ = six_people(pair)
    pair.clock.advance(minutes=3)
    later = [minute + timedelta(minutes=n) for n in range(4)]
    assert [bucket(pair, reader, meeting_id, m) for m in later] == [Counts(1, 3, 2)] * 4
    other = 1 - reader
    assert [bucket(pair, other, meeting_id, m) for m in later] == [Counts(1, 3, 2)] * 4
    assert stored(pair.engine)[meeting_id] == recomputed(pair.engine, pair.clock.now)[meeting_id]


def test_a_click_through_one_service_after_the_minute_keeps_the_others(pair: Team) -> None:
    minute = floor_minute(pair.clock.now)
    meeting_id, ids = six_people(pair)
    pair.clock.advance(minutes=1)
    pair.services[0].history.meeting_detail(meeting_id)  # service 0 settles the minute
    changed = pair.services[1].record_status(SPEAKING, ids[1])  # one engaged starts speaking
    assert changed.participant_id == ids[1]
    next_minute = minute + timedelta(minutes=1)
    assert (changed.bucket.speaking, changed.bucket.engaged, changed.bucket.disengaged) == (2, 3, 2)
    pair.clock.advance(minutes=1)
    assert bucket(pair, 0, meeting_id, next_minute) == Counts(2, 3, 2)
    assert bucket(pair, 0, meeting_id, next_minute + timedelta(minutes=1)) == Counts(2, 2, 2)
    assert stored(pair.engine) == recomputed(pair.engine, pair.clock.now)


def test_a_meeting_started_through_one_service_is_the_others_current_meeting(pair: Team) -> None:
    first = pair.services[1].visit()  # service 1 knows the slot's meeting
    pair.clock.advance(seconds=5)
    started = pair.services[0].start_meeting(title="Stand-up", duration_minutes=30)
    pair.clock.advance(seconds=5)
    assert pair.services[1].visit().meeting.id == started.id
    recorded = pair.services[1].record_status(ENGAGED, first.participant_id)
    assert recorded.meeting_id == started.id
    assert pair.services[1].live_view().meeting == started


def test_a_meeting_ended_through_one_service_is_over_in_the_other(pair: Team) -> None:
    started = pair.services[0].start_meeting(title="Stand-up", duration_minutes=30)
    pair.clock.advance(seconds=5)
    assert pair.services[1].record_status(ENGAGED).meeting_id == started.id
    pair.clock.advance(seconds=5)
    ended = pair.services[0].end_meeting()
    pair.clock.advance(seconds=5)
    after = pair.services[1].record_status(ENGAGED)
    assert after.meeting_id != ended.id
    assert after.meeting_id == expected_meeting(pair, pair.clock.now)
    pair.clock.advance(minutes=2)
    assert_buckets_equal_the_definition(pair, 1)
    assert_buckets_equal_the_definition(pair, 0)


def test_a_participant_renewed_through_one_service_is_alive_in_the_other(pair: Team) -> None:
    meeting = pair.services[0].start_meeting(title="Workshop", duration_minutes=180)
    pair.clock.advance(seconds=5)
    joined = pair.services[1].record_status(ENGAGED)  # service 1 knows it until +60 min
    pair.clock.advance(minutes=50)
    renewed = pair.services[0].record_status(SPEAKING, joined.participant_id)
    assert renewed.participant_id == joined.participant_id
    pair.clock.advance(minutes=20)  # past the expiry service 1 saw, before the renewed one
    again = pair.services[1].record_status(DISENGAGED, joined.participant_id)
    assert again.participant_id == joined.participant_id  # one person, one participant
    assert again.meeting_id == meeting.id
    visit = pair.services[1].visit(joined.participant_id)
    assert visit.participant_id == joined.participant_id
    detail = pair.services[0].history.meeting_detail(meeting.id)
    assert len(detail.participants) == 1
    assert_buckets_equal_the_definition(pair, 0)


def test_a_participant_who_left_through_one_service_is_gone_in_the_other(pair: Team) -> None:
    """Moving on to a new meeting through service 0 ends the old participant for service 1."""
    joined = pair.services[1].record_status(ENGAGED)
    pair.clock.advance(seconds=5)
    pair.services[0].start_meeting(title="Next", duration_minutes=30)
    pair.clock.advance(seconds=5)
    moved = pair.services[0].record_status(SPEAKING, joined.participant_id)
    assert moved.participant_id != joined.participant_id
    pair.clock.advance(minutes=3)
    assert_buckets_equal_the_definition(pair, 1)
    assert_buckets_equal_the_definition(pair, 0)


def test_two_services_at_one_instant_keep_events_in_order(pair: Team) -> None:
    """The same clock reading in two processes: a status changed there still counts right."""
    first = pair.services[0].record_status(SPEAKING)
    second = pair.services[1].record_status(ENGAGED, first.participant_id)  # the same instant
    assert second.participant_id == first.participant_id
    assert (second.bucket.speaking, second.bucket.engaged) == (1, 1)
    pair.clock.advance(minutes=1)
    assert_buckets_equal_the_definition(pair, 0)


def test_concurrent_writers_in_several_services_raise_nothing_and_agree(
    postgres_cluster: PostgresCluster,
) -> None:
    """Threads in three services at once, the clock crossing minutes: no error, the definition.

    Today two processes both insert a new minute (a unique violation), or one
    replays the changes while the other commits between its two reads (KeyError).
    """
    clock = FakeClock(datetime(2026, 11, 27, 10, 35, 10, tzinfo=UTC))
    with team_on(postgres_cluster, 3, clock) as team:
        errors: list[BaseException] = []
        running = threading.Event()
        running.set()

        def person(seed: int) -> None:
            rng = random.Random(seed)  # noqa: S311 - a test's choices
            chain: list[str] = []
            try:
                for _ in range(30):
                    service = team.services[rng.randrange(3)]
                    sent = chain[-1] if chain else None
                    if rng.random() < 0.15:
                        answer = service.visit(sent).participant_id
                    else:
                        answer = service.record_status(
                            rng.choice(list(Status)), sent
                        ).participant_id
                    if answer != sent:
                        chain.append(answer)
            except BaseException as error:
                errors.append(error)

        def ticker() -> None:
            for _ in range(400):  # up to 400 x 7 s: across minutes and one slot boundary
                if not running.is_set():
                    return
                clock.advance(seconds=7)
                time.sleep(0.02)

        people = [threading.Thread(target=person, args=(seed,)) for seed in range(8)]
        moving = threading.Thread(target=ticker)
        moving.start()
        for thread in people:
            thread.start()
        for thread in people:
            thread.join(120)
        running.clear()
        moving.join(10)
        assert errors == [], f"{len(errors)} errors, the first: {errors[0]!r}"
        clock.advance(seconds=1)
        for index in range(3):
            assert_buckets_equal_the_definition(team, index)
        assert slots_with_several_meetings(team.engine) == []
