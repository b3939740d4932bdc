"""Buckets: the definition by example, and the incremental tally against it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mudameter_desktop.domain.buckets import RoomTally, StatusChange, recompute, sample_minutes
from mudameter_desktop.domain.meetings import MINUTE, expiry_after, floor_minute
from mudameter_desktop.domain.statuses import Counts, Status

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
END = START + timedelta(minutes=60)
S, E, D = Status.SPEAKING, Status.ENGAGED, Status.DISENGAGED


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def definition(changes: list[StatusChange], now: datetime, end: datetime = END) -> dict:
    expires = {c.participant_id: expiry_after(c.at) for c in changes}
    return recompute(START, end, changes, expires, now)


def test_many_clicks_in_a_minute_count_one_participant_once() -> None:
    changes = [StatusChange("a", E, at(5 + i / 200)) for i in range(100)]
    assert definition(changes, at(5.9))[at(5)] == Counts(engaged=1)


def test_a_switch_inside_a_minute_counts_in_both_columns() -> None:
    changes = [StatusChange("a", S, at(5.1)), StatusChange("a", E, at(5.5))]
    buckets = definition(changes, at(7))
    assert buckets[at(5)] == Counts(speaking=1, engaged=1)
    assert buckets[at(6)] == Counts(engaged=1)


def test_a_status_carries_forward_for_15_minutes_without_clicks() -> None:
    buckets = definition([StatusChange("a", D, at(10.3))], at(24.5))
    assert [buckets[at(m)] for m in range(10, 25)] == [Counts(disengaged=1)] * 15
    assert buckets[at(9)] == Counts()


def test_an_early_arrival_counts_from_the_first_minute() -> None:
    changes = [StatusChange("a", S, at(-20)), StatusChange("a", E, at(-10))]
    buckets = definition(changes, at(1))
    assert buckets[at(0)] == Counts(engaged=1)  # the switch before the start does not count
    assert list(buckets) == [at(0), at(1)]


def test_nothing_counts_after_the_end_and_samples_stop_there() -> None:
    buckets = definition([StatusChange("a", E, at(50))], at(90))
    assert list(buckets)[-1] == at(59)
    assert sum(buckets.values(), Counts()) == Counts(engaged=10)


def test_an_expired_participant_stops_counting() -> None:
    early = StatusChange("a", E, at(-30))  # expires at minute 30 unless they come back
    buckets = definition([early], at(45))
    assert buckets[at(29)] == Counts(engaged=1)
    assert buckets[at(30)] == Counts()


def test_samples_run_from_start_to_the_current_minute_zeros_included() -> None:
    assert sample_minutes(START, END, at(-1)) == []
    assert sample_minutes(START, END, at(2.5)) == [at(0), at(1), at(2)]
    assert sample_minutes(START, at(2.5), at(10)) == [at(0), at(1), at(2)]
    assert sample_minutes(START, at(2), at(10)) == [at(0), at(1)]


def test_muda_is_the_disengaged_share_or_none() -> None:
    assert Counts().muda is None
    assert Counts(speaking=1, engaged=2, disengaged=1).muda == 0.25


# -- the incremental tally against the definition ---------------------------

participant_ids = st.sampled_from(["a", "b", "c", "d"])
statuses = st.sampled_from(list(Status))
events = st.lists(
    st.tuples(
        st.sampled_from(["status", "status", "visit", "look", "end"]),
        participant_ids,
        statuses,
        # The gap before the event, in ms (events are strictly ordered in
        # time): any, or whole minutes so events and expiries land exactly on
        # minute boundaries.
        st.one_of(
            st.integers(min_value=1, max_value=15 * 60_000),
            st.integers(min_value=1, max_value=70).map(lambda minutes: minutes * 60_000),
        ),
    ),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(
    events=events,
    start_offset=st.integers(min_value=-40, max_value=10),
    length=st.integers(min_value=1, max_value=90),
)
def test_the_tally_always_equals_the_definition(
    events: list[tuple[str, str, Status, int]], start_offset: int, length: int
) -> None:
    """Feed events as the service would; the tally's buckets equal `recompute`.

    Times start before, at or after the meeting; participants expire and come
    back as new ones (as the service makes them); the meeting may end early.
    """
    starts_at = START + timedelta(minutes=start_offset)
    tally = RoomTally(starts_at, starts_at + timedelta(minutes=length))
    stored: dict[datetime, Counts] = {}
    changes: list[StatusChange] = []
    expires: dict[str, datetime] = {}
    generation: dict[str, int] = {}
    now = START - timedelta(minutes=30)
    for kind, person, status, gap_ms in events:
        now += timedelta(milliseconds=gap_ms)
        participant = f"{person}{generation.get(person, 0)}"
        if participant in expires and expires[participant] <= now:
            generation[person] = generation.get(person, 0) + 1
            participant = f"{person}{generation[person]}"
        if kind == "status":
            expires[participant] = expiry_after(now)
            changes.append(StatusChange(participant, status, now))
            tally.set_status(participant, status, now, expires[participant])
        elif kind == "visit":
            expires[participant] = expiry_after(now)
            tally.touch(participant, expires[participant])
        elif kind == "look":
            tally.advance(now)
        else:
            tally.end(now)
            stored = {m: c for m, c in stored.items() if m < tally.ends_at}
        stored.update(tally.drain())
    tally.advance(now)
    stored.update(tally.drain())
    expected = recompute(starts_at, tally.ends_at, changes, expires, now)
    assert stored == expected


def test_the_bucket_of_an_early_status_is_the_first_minute_to_come() -> None:
    tally = RoomTally(START, END)
    tally.set_status("a", E, at(-10), expiry_after(at(-10)))
    tally.set_status("b", S, at(-5), expiry_after(at(-5)))
    assert tally.bucket_at(at(-5)) == (START, Counts(speaking=1, engaged=1))
    tally.set_status("a", D, at(3.5), expiry_after(at(3.5)))
    assert tally.bucket_at(at(3.5)) == (at(3), Counts(speaking=1, engaged=1, disengaged=1))
    assert floor_minute(at(3.5)) + MINUTE == at(4)


@settings(max_examples=200, deadline=None)
@given(events=events, cut=st.integers(min_value=0, max_value=40), length=st.integers(1, 90))
def test_a_tally_resumed_from_what_is_stored_goes_on_like_the_original(
    events: list[tuple[str, str, Status, int]], cut: int, length: int
) -> None:
    """Another process picks the meeting up after any event: same buckets, same room."""
    original = RoomTally(START, START + timedelta(minutes=length))
    resumed: RoomTally | None = None
    stored: dict[datetime, Counts] = {}
    stored_by_resumed: dict[datetime, Counts] = {}
    changes: list[StatusChange] = []
    expires: dict[str, datetime] = {}
    now = START - timedelta(minutes=30)
    for index, (kind, person, status, gap_ms) in enumerate(events):
        if index == cut and stored:
            resumed = resume(original, stored, changes, expires)
            stored_by_resumed = dict(stored)
        now += timedelta(milliseconds=gap_ms)
        if person in expires and expires[person] <= now:
            continue  # an expired participant comes back as a new one: not needed here
        tallies = [original] if resumed is None else [original, resumed]
        for tally in tallies:
            if kind == "status":
                tally.set_status(person, status, now, expiry_after(now))
            elif kind == "visit":
                tally.touch(person, expiry_after(now))
            elif kind == "look":
                tally.advance(now)
        if kind == "status":
            changes.append(StatusChange(person, status, now))
        if kind in {"status", "visit"}:
            expires[person] = expiry_after(now)
        stored.update(original.drain())
        if resumed is not None:
            stored_by_resumed.update(resumed.drain())
    if resumed is not None:
        for tally in (original, resumed):
            tally.advance(now)
        stored.update(original.drain())
        stored_by_resumed.update(resumed.drain())
        assert stored_by_resumed == stored
        assert resumed.totals() == original.totals()
        assert resumed.room_now(now) == original.room_now(now)
        assert resumed.recent(floor_minute(now), 5) == original.recent(floor_minute(now), 5)


def resume(
    tally: RoomTally,
    stored: dict[datetime, Counts],
    changes: list[StatusChange],
    expires: dict[str, datetime],
) -> RoomTally:
    """What the service does: the last stored minute, statuses carried into it, later changes."""
    minute = max(stored)
    carried = {change.participant_id: change.status for change in changes if change.at < minute}
    resumed = RoomTally.resumed(
        tally.starts_at, tally.ends_at, minute, carried=carried, expires=expires, stored=stored
    )
    for change in changes:
        if change.at >= minute:
            resumed.set_status(
                change.participant_id, change.status, change.at, expires[change.participant_id]
            )
    resumed.drain()
    return resumed
