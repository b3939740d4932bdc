"""Per-minute buckets: the definition, and the incremental tally that keeps them.

A participant counts once under each status they held at any moment of the
minute `[m, m + 1 min)`, within the meeting and while alive. Events (status
changes, the end) come at strictly increasing instants: the service's clock
guarantees it, so every status is held for some time, however short.

`recompute` is the definition, written for clarity; `RoomTally` reaches the
same buckets one event at a time, for the hot path of a click. A property
test keeps the two equal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mudameter_desktop.domain.meetings import MINUTE, floor_minute
from mudameter_desktop.domain.statuses import Counts, Status

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One raw status change: the source of truth for buckets."""

    participant_id: str
    status: Status
    at: datetime


def sample_minutes(starts_at: datetime, ends_at: datetime, now: datetime) -> list[datetime]:
    """Every minute that has a sample: from the start up to now or the end."""
    first = floor_minute(starts_at)
    if ends_at <= first or now < first:
        return []
    last = min(floor_minute(now), floor_minute(ends_at - _TICK))
    count = int((last - first) / MINUTE) + 1
    return [first + index * MINUTE for index in range(count)]


def recompute(
    starts_at: datetime,
    ends_at: datetime,
    changes: Iterable[StatusChange],
    expires: Mapping[str, datetime],
    now: datetime,
) -> dict[datetime, Counts]:
    """The buckets of a meeting by the definition, from the raw changes."""
    minutes = sample_minutes(starts_at, ends_at, now)
    held: dict[datetime, set[tuple[str, Status]]] = {minute: set() for minute in minutes}
    by_participant: dict[str, list[StatusChange]] = defaultdict(list)
    for change in changes:
        by_participant[change.participant_id].append(change)
    for participant, history in by_participant.items():
        history.sort(key=lambda change: change.at)
        for index, change in enumerate(history):
            replaced_at = history[index + 1].at if index + 1 < len(history) else ends_at
            low = max(change.at, starts_at)
            high = min(replaced_at, ends_at, expires[participant])
            for minute in minutes:
                if low < high and low < minute + MINUTE and high > minute:
                    held[minute].add((participant, change.status))
    return {minute: Counts.of([status for _, status in pairs]) for minute, pairs in held.items()}


class RoomTally:
    """Incremental buckets of one meeting, fed events in time order.

    It keeps each participant's current status and collects the
    (participant, status) pairs of the open minute; passing a minute boundary
    closes it and opens the next with the statuses carried forward.
    `drain()` hands back the buckets changed since the last call.
    """

    def __init__(self, starts_at: datetime, ends_at: datetime) -> None:
        self.starts_at = floor_minute(starts_at)
        self.ends_at = ends_at
        self._holdings: dict[str, Status] = {}
        self._expires: dict[str, datetime] = {}
        self._open_minute: datetime | None = None
        self._pairs: set[tuple[str, Status]] = set()  # held in the open minute
        self._changed: dict[datetime, Counts] = {}
        self._buckets: dict[datetime, Counts] = {}  # every minute opened so far

    @classmethod
    def resumed(
        cls,
        starts_at: datetime,
        ends_at: datetime,
        minute: datetime,
        *,
        carried: Mapping[str, Status],
        expires: Mapping[str, datetime],
        stored: Mapping[datetime, Counts],
    ) -> RoomTally:
        """The tally as it stood when `minute` opened, from what is stored.

        `carried` is each participant's status just before `minute`, `expires`
        their expiries now, `stored` the buckets kept so far. Feeding it the
        changes from `minute` on gives the tally a replay of every change
        would: a process picks up a meeting in a few rows, however long.
        Today's expiry stands for the one at the opening: an expiry only moves
        while the participant is alive, so it was after `minute` then exactly
        when it is now.
        """
        tally = cls(starts_at, ends_at)
        tally._holdings = dict(carried)
        tally._expires = dict(expires)
        tally._buckets = {m: counts for m, counts in stored.items() if m < minute}
        tally._open(minute)
        return tally

    def room_now(self, now: datetime) -> Counts:
        """Room now: each live participant once, under the status they hold now.

        Before the start that is who will carry into the first minute; after
        the end the room is empty.
        """
        if now >= self.ends_at:
            return Counts()
        return Counts.of([s for p, s in self._holdings.items() if self._expires[p] > now])

    def status_at(self, participant_id: str, now: datetime) -> Status | None:
        """The participant's status if it still holds at `now` in this meeting."""
        alive = self._expires.get(participant_id, now) > now and now < self.ends_at
        return self._holdings.get(participant_id) if alive else None

    def totals(self) -> Counts:
        """The meeting's participant-minutes over the minutes opened so far."""
        return sum(self._buckets.values(), Counts())

    def recent(self, before: datetime, count: int) -> tuple[Counts, ...]:
        """The buckets of the last `count` minutes that ended by `before`, oldest first."""
        minutes = sorted(minute for minute in self._buckets if minute + MINUTE <= before)
        return tuple(self._buckets[minute] for minute in minutes[-count:])

    def status_of(self, participant_id: str) -> Status | None:
        return self._holdings.get(participant_id)

    def bucket_at(self, at: datetime) -> tuple[datetime, Counts]:
        """The minute where a status set at `at` counts, and its counts so far.

        Before the start that is the first minute, counted from the statuses
        that will carry into it; after the end nothing counts.
        """
        minute = max(floor_minute(at), self.starts_at)
        if minute == self._open_minute and at < self.ends_at:
            return minute, self._count()
        if self._open_minute is None and minute == self.starts_at < self.ends_at:
            return minute, Counts.of(
                [s for p, s in self._holdings.items() if self._expires[p] > self.starts_at]
            )
        return minute, Counts()

    def bucket(self, minute: datetime) -> Counts:
        """A minute's counts as they stand (empty before the tally reached it)."""
        return self._buckets.get(minute, Counts())

    def advance(self, now: datetime) -> None:
        """Close every minute before `now`'s and open `now`'s, carrying statuses.

        The same minutes as `sample_minutes`, without listing them all: a
        replay calls this once per change.
        """
        if self.ends_at <= self.starts_at or now < self.starts_at:
            return
        last = min(floor_minute(now), floor_minute(self.ends_at - _TICK))
        open_minute = self._open_minute
        if open_minute is None:
            open_minute = self.starts_at
            self._open(open_minute)
        while open_minute < last:
            open_minute += MINUTE
            self._open(open_minute)

    def set_status(
        self, participant_id: str, status: Status, at: datetime, expires_at: datetime
    ) -> None:
        self.advance(at)
        previous = self._holdings.get(participant_id)
        self._holdings[participant_id] = status
        self._expires[participant_id] = expires_at
        if self._open_minute is not None and self._open_minute <= at < self.ends_at:
            if previous is not None and at == self._open_minute:
                # Replaced at the minute's first instant: the carried status was not held in it.
                self._pairs.discard((participant_id, previous))
            self._pairs.add((participant_id, status))
            self._record(self._open_minute)

    def touch(self, participant_id: str, expires_at: datetime) -> None:
        """A visit renews the participant (their status holds longer); leaving ends it.

        Leaving at `at` (expiry set to that instant) keeps the status in the
        minutes up to `at` and carries it into no later one.
        """
        self._expires[participant_id] = expires_at

    def end(self, at: datetime) -> None:
        """End the meeting now, at `at` (never before its start)."""
        self.advance(at)
        self.cut(at)

    def cut(self, at: datetime) -> None:
        """Move the end to `at` if earlier, dropping the minutes from there on.

        Unlike `end`, it opens no minute: `at` may lie in the past (an explicit
        start at the current minute's first instant) or in the future.
        """
        self.ends_at = max(min(self.ends_at, at), self.starts_at)
        self._changed = {m: c for m, c in self._changed.items() if m < self.ends_at}
        self._buckets = {m: c for m, c in self._buckets.items() if m < self.ends_at}
        if self._open_minute is not None and self._open_minute >= self.ends_at:
            self._pairs = set()

    def has_changes(self) -> bool:
        return bool(self._changed)

    def drain(self) -> dict[datetime, Counts]:
        changed, self._changed = self._changed, {}
        return changed

    def _open(self, minute: datetime) -> None:
        self._open_minute = minute
        self._pairs = {
            (participant, status)
            for participant, status in self._holdings.items()
            if self._expires[participant] > minute
        }
        self._record(minute)

    def _record(self, minute: datetime) -> None:
        counts = Counts.of([status for _, status in self._pairs])
        self._changed[minute] = counts
        self._buckets[minute] = counts

    def _count(self) -> Counts:
        return Counts.of([status for _, status in self._pairs])


def room_disengaged_for(recent: Sequence[Counts], minutes: int) -> bool:
    """Whether more than half the room was disengaged in each of the last `minutes`."""
    window = recent[-minutes:]
    return len(window) == minutes and all(c.total and 2 * c.disengaged > c.total for c in window)
