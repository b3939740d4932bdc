"""What the tray, its menu and the meter window show, held in memory.

`LiveState` is an immutable snapshot; `MeterState` holds the current one and
emits `changed` when it is replaced, so opening the menu costs no query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from PySide6.QtCore import QObject, Signal

from mudameter_desktop.domain.meetings import MEETING_LENGTH, MeetingPlan, nearest_local_hour
from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.signals import emit

if TYPE_CHECKING:  # the service layer imports SQLAlchemy: loaded after the tray shows
    from mudameter_desktop.services.views import MeetingView

M = TypeVar("M", bound="MeetingView")

STATUS_LABELS = {
    Status.SPEAKING: "Speaking",
    Status.ENGAGED: "Engaged",
    Status.DISENGAGED: "Disengaged",
}


@dataclass(frozen=True)
class LiveState:
    ready: bool = False
    error: str | None = None
    status: Status | None = None  # the local user's, None = idle
    meeting: MeetingView | None = None  # the meeting running now, if it exists yet
    plan: MeetingPlan | None = None  # else the hourly slot a click would create
    room: Counts = field(default_factory=Counts)  # the current minute's bucket
    muda: float | None = None  # the current meeting's, so far
    share_on_lan: bool = False
    local_url: str = ""
    join_url: str = ""


class MeterState(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.live = LiveState()

    def update(self, **changes: Any) -> None:
        new = replace(self.live, **changes)
        if new != self.live:
            self.live = new
            emit(self.changed)


def people(count: int) -> str:
    return "1 participant" if count == 1 else f"{count} participants"


def percent(share: float | None) -> str:
    return "\u2014" if share is None else f"{share:.0%}"


class Scheduled(Protocol):
    @property
    def title(self) -> str: ...

    @property
    def starts_at(self) -> datetime: ...

    @property
    def ends_at(self) -> datetime: ...


def wasted_hours(totals: Counts) -> float:
    """Disengaged participant-minutes as person-hours."""
    return totals.disengaged / 60


def wasted_text(totals: Counts, settings: Settings) -> str:
    """Disengaged participant-time, and its cost when an hourly cost is set."""
    if not totals.total:
        return "\u2014"
    minutes = totals.disengaged
    text = f"{minutes} person-min" if minutes < 60 else f"{wasted_hours(totals):.1f} person-h"
    if settings.hourly_cost > 0:
        text += f" = {wasted_hours(totals) * settings.hourly_cost:.2f} {settings.currency}"
    return text


def meeting_line(meeting: Scheduled, zone: tzinfo) -> str:
    starts = meeting.starts_at.astimezone(zone)
    ends = meeting.ends_at.astimezone(zone)
    return f"{meeting.title} · {starts:%H:%M}\u2013{ends:%H:%M}"


def live_meeting_line(live: LiveState, zone: tzinfo) -> str:
    """The meeting a click goes to now, also before anyone has clicked."""
    if not live.ready:
        return live.error or "Starting…"
    if live.meeting is not None:
        return meeting_line(live.meeting, zone)
    if live.plan is not None:
        return f"{meeting_line(live.plan, zone)} (no clicks yet)"
    return "No meeting"


def room_line(room: Counts, muda: float | None) -> str:
    return (
        f"Room now: {room.speaking} speaking · {room.engaged} engaged · "
        f"{room.disengaged} disengaged\nMuda so far: {percent(muda)}"
    )


def tooltip(live: LiveState, zone: tzinfo) -> str:
    if not live.ready:
        return "Muda Meter — starting…" if live.error is None else f"Muda Meter — {live.error}"
    you = STATUS_LABELS[live.status] if live.status else "no status"
    return "\n".join(
        (live_meeting_line(live, zone), f"You: {you}", f"Room muda so far: {percent(live.muda)}")
    )


def looks_detected(meeting: MeetingView, zone: tzinfo) -> bool:
    """Whether a meeting is an hourly slot rather than an explicit start."""
    return (
        meeting.ends_at - meeting.starts_at == MEETING_LENGTH
        and nearest_local_hour(meeting.starts_at, zone) == meeting.starts_at
    )


def current_meeting(meetings: Sequence[M], now: datetime, zone: tzinfo) -> M | None:
    """The meeting a click would go to now, among existing ones (none is created).

    Mirrors the service's detection: an explicit meeting running now wins
    (the latest-starting one), then the hourly slot nearest to now, which
    takes clicks from half an hour before its start.
    """
    detected = {m.id for m in meetings if looks_detected(m, zone)}
    running = [m for m in meetings if m.id not in detected and m.starts_at <= now < m.ends_at]
    if running:
        return max(running, key=lambda m: (m.starts_at, m.id))
    slot = nearest_local_hour(now, zone)
    return next((m for m in meetings if m.id in detected and m.starts_at == slot), None)
