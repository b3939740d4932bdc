"""What the tray, its menu and the meter window show, held in memory.

`LiveState` is an immutable snapshot; `MeterState` holds the current one and
emits `changed` when it is replaced, so opening the menu costs no query.
Which meeting a click goes to, the room now and the muda come from the
service's live view: nothing here re-derives a domain rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, Signal

from mudameter_desktop.domain.meetings import MeetingPlan
from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.signals import emit

if TYPE_CHECKING:  # the service layer imports SQLAlchemy: loaded after the tray shows
    from mudameter_desktop.services.views import MeetingView

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
    # All below as the service's live view says (the UI re-derives none of it):
    meeting: MeetingView | None = None  # the meeting a click goes to now, if it exists yet
    plan: MeetingPlan | None = None  # else the hourly slot a click would create
    running: bool = False  # False once "End meeting now" ended it
    room: Counts = field(default_factory=Counts)  # room now: each live participant once
    muda: float | None = None  # the current meeting's, so far
    share_on_lan: bool = False
    local_url: str = ""
    join_url: str = ""
    # A team server's room the clicks go to ("": this computer's store), and its delivery.
    team_room: str = ""
    offline: bool = False  # the room could not be reached with the oldest waiting click
    waiting: int = 0  # clicks kept locally, not delivered yet
    stale: bool = False  # the room's view is the last one read: the server does not answer

    @property
    def joinable(self) -> bool:
        """Whether phones can open `join_url`: shared on the LAN, or a team server's room."""
        return bool(self.join_url) and (self.share_on_lan or bool(self.team_room))

    @property
    def failed(self) -> bool:
        """Whether the store could not be opened (nothing can be recorded)."""
        return not self.ready and self.error is not None


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


def length_minutes(meeting: Scheduled) -> int:
    """A meeting's length in whole minutes (the history's column, the end summary)."""
    return round((meeting.ends_at - meeting.starts_at).total_seconds() / 60)


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
    known = " (last known)" if live.stale else ""
    if live.meeting is not None:
        line = meeting_line(live.meeting, zone)
        return (line if live.running else f"{line} (ended)") + known
    if live.plan is not None:
        return f"{meeting_line(live.plan, zone)} (no clicks yet){known}"
    if live.team_room:
        return f"Team room {live.team_room}"
    return "No meeting"


def room_line(room: Counts, muda: float | None) -> str:
    return (
        f"Room now: {room.speaking} speaking · {room.engaged} engaged · "
        f"{room.disengaged} disengaged\nMuda so far: {percent(muda)}"
    )


def clicks(count: int) -> str:
    return "1 click" if count == 1 else f"{count} clicks"


def delivery_line(live: LiveState) -> str | None:
    """How the clicks to a team server's room fare, when there is something to say."""
    if not live.team_room or not (live.offline or live.waiting):
        return None
    # Online with clicks waiting is the moment of sending one: not "offline".
    return f"{'Offline' if live.offline else 'Sending'} \u2014 {clicks(live.waiting)} waiting"


def tooltip(live: LiveState, zone: tzinfo) -> str:
    if not live.ready:
        return "Muda Meter — starting…" if live.error is None else f"Muda Meter — {live.error}"
    you = STATUS_LABELS[live.status] if live.status else "no status"
    lines = [live_meeting_line(live, zone), f"You: {you}"]
    lines.append(f"Room muda so far: {percent(live.muda)}")
    if live.team_room:
        lines.append(f"Team room: {live.team_room}")
    delivery = delivery_line(live)
    if delivery is not None:
        lines.append(delivery)
    return "\n".join(lines)
