"""The tray's logic without widgets: clicks, meetings, live state, notifications.

Service notifications arrive in the writer's thread (a LAN request's, or
ours); `_hub_changed` carries them to the UI thread, where they are batched
for a moment so a burst of LAN clicks costs one refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from mudameter_desktop.domain.meetings import floor_minute, plan_detected
from mudameter_desktop.domain.statuses import Counts, ParticipantKind, Status
from mudameter_desktop.settings import Settings, save_settings
from mudameter_desktop.ui import autostart
from mudameter_desktop.ui.runtime import Runtime, Task, host_for, is_shared
from mudameter_desktop.ui.signals import emit
from mudameter_desktop.ui.state import (
    MeterState,
    current_meeting,
    meeting_line,
    people,
    percent,
    wasted_text,
)

if TYPE_CHECKING:  # the service layer imports SQLAlchemy: loaded after the tray shows
    from mudameter_desktop.services import MeetingChange, MeetingDetail, MeterService

log = logging.getLogger(__name__)

BATCH_MS = 150  # LAN clicks arriving within this are one refresh
NUDGE_MINUTES = 5


def meeting_summary_text(detail: MeetingDetail, settings: Settings) -> str:
    minutes = round((detail.ends_at - detail.starts_at).total_seconds() / 60)
    return (
        f"{minutes} min, {people(detail.participant_count)}, "
        f"muda {percent(detail.muda)}, wasted {wasted_text(detail.totals, settings)}"
    )


def room_counts(detail: MeetingDetail | None, now: datetime) -> tuple[list[Counts], Counts]:
    """The counts of the minutes before now, and the room's now.

    Before the meeting starts, "now" is its first minute as it will start:
    the statuses of the participants who arrived early.
    """
    if detail is None:
        return [], Counts()
    minute = floor_minute(now)
    settled = [
        Counts(s.speaking, s.engaged, s.disengaged)
        for s in detail.engagement_samples
        if s.minute < minute
    ]
    if now < detail.starts_at:
        early = [p.status for p in detail.participants if p.status and p.expires_at > now]
        return settled, Counts.of(early)
    current = next(
        (
            Counts(s.speaking, s.engaged, s.disengaged)
            for s in detail.engagement_samples
            if s.minute == minute
        ),
        Counts(),
    )
    return settled, current


def room_disengaged_for(samples: list[Counts], minutes: int) -> bool:
    """Whether more than half the room was disengaged in each of the last `minutes`."""
    recent = samples[-minutes:]
    return len(recent) == minutes and all(c.total and 2 * c.disengaged > c.total for c in recent)


class MeterController(QObject):
    ready = Signal()
    failed = Signal(str)
    refreshed = Signal()  # the live state was re-read after changes
    meetings_changed = Signal(object)  # dict[int, str]: a batch of meeting id -> ChangeKind
    notify = Signal(str, str)  # title, message for a tray notification
    _hub_changed = Signal(int, str)  # emitted in the writer's thread

    def __init__(self, state: MeterState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.runtime: Runtime | None = None
        self._loader: Task | None = None
        self._tasks: set[Task] = set()  # running in worker threads
        self._queued: list[Status] = []  # clicks made before the store was ready
        self._participant_id: str | None = None
        self._participant_meeting: int | None = None
        self._pending: dict[int, str] = {}
        self._nudged = False
        self._unsubscribe: Callable[[], None] | None = None
        self._batch = QTimer(self, singleShot=True, interval=BATCH_MS)
        self._batch.timeout.connect(self._flush_changes)
        self._minute = QTimer(self, singleShot=True)
        self._minute.timeout.connect(self.tick)
        self._hub_changed.connect(self._on_change)

    # -- loading ----------------------------------------------------------

    def load(self, work: Callable[[], Runtime]) -> None:
        """Open the backend in a worker thread; `ready` or `failed` follows."""
        self._loader = self._run_task(work, self._on_loaded, self._on_failed)

    @Slot(object)
    def _on_loaded(self, runtime: object) -> None:
        if not isinstance(runtime, Runtime):
            raise TypeError(f"the loader returned {runtime!r}, not a Runtime")
        self.runtime = runtime
        self._unsubscribe = runtime.service.changes.subscribe(self._on_hub_change)
        server = runtime.server
        self.state.update(
            ready=True,
            error=runtime.server_error and f"Server not running: {runtime.server_error}",
            share_on_lan=is_shared(server) if server else runtime.settings.share_on_lan,
            local_url=server.local_url if server else "",
            join_url=server.join_url() if server else "",
        )
        queued, self._queued = self._queued, []
        for status in queued:
            self._record(status)
        self.refresh_live(announce=False)
        self._schedule_tick()
        if runtime.store_notice:
            emit(self.notify, "Started with a fresh database", runtime.store_notice)
        emit(self.ready)

    @Slot(object)
    def _on_failed(self, error: BaseException) -> None:
        self.state.update(error=str(error))
        emit(self.failed, str(error))

    @property
    def zone(self) -> tzinfo:
        return self.runtime.service.zone if self.runtime else UTC

    # -- user actions -----------------------------------------------------

    def set_status(self, status: Status) -> None:
        """A click: recorded at once, or queued until the store is ready."""
        if self.runtime is None:
            self._queued.append(status)
            self.state.update(status=status)
            return
        self._record(status)

    def start_meeting(self, title: str, duration_minutes: int) -> None:
        if self.runtime is None:
            return
        self._guarded(
            "The meeting could not be started",
            lambda: self._service().start_meeting(
                title=title.strip() or None, duration_minutes=duration_minutes
            ),
        )

    def end_meeting(self) -> None:
        if self.runtime is None or self.state.live.meeting is None:
            return  # ending would create the slot's meeting just to end it
        self._guarded("The meeting could not be ended", self._service().end_meeting)

    def set_share_on_lan(self, share: bool) -> None:
        """Rebind the server (in a worker) and remember the choice."""
        runtime = self.runtime
        if runtime is None:
            return
        self.save_settings(runtime.settings.with_changes(share_on_lan=share))
        server = runtime.server
        if server is None:
            self.state.update(share_on_lan=share)
            return
        self._run_task(
            lambda: server.rebind(host_for(share)), self._on_rebound, self._on_rebind_failed
        )

    @Slot(object)
    def _on_rebound(self, _result: object) -> None:
        runtime = self.runtime
        if runtime is not None and runtime.server is not None:
            self.state.update(
                share_on_lan=is_shared(runtime.server),
                local_url=runtime.server.local_url,
                join_url=runtime.server.join_url(),
            )

    @Slot(object)
    def _on_rebind_failed(self, error: BaseException) -> None:
        emit(self.notify, "Share on LAN failed", str(error))
        self._on_rebound(None)

    def new_room_key(self) -> None:
        """Revoke the room key at once and keep the new one for the next start."""
        runtime = self.runtime
        if runtime is None:
            return
        key = runtime.access.regenerate()
        self.save_settings(runtime.settings.with_changes(room_key=key))
        if runtime.server is not None:
            self.state.update(join_url=runtime.server.join_url())

    def save_settings(self, settings: Settings) -> None:
        """Persist `settings` and apply what can change while running."""
        runtime = self.runtime
        if runtime is None:
            return
        previous, runtime.settings = runtime.settings, settings
        runtime.access.require_key = settings.require_room_key
        try:
            save_settings(runtime.settings_file, settings)
            if settings.start_at_login != previous.start_at_login:
                autostart.set_start_at_login(settings.start_at_login, runtime.login_command)
        except OSError as error:
            log.exception("Saving the settings failed")
            emit(self.notify, "Settings not saved", str(error))

    # -- live state -------------------------------------------------------

    def refresh_live(self, announce: bool = True) -> None:
        """Re-read the running meeting and the room (two short reads)."""
        runtime = self.runtime
        if runtime is None:
            return
        service, now = runtime.service, runtime.clock()
        meeting = current_meeting(service.list_meetings(1).items, now, service.zone)
        detail = self._detail(meeting.id) if meeting else None
        settled, room = room_counts(detail, now)
        previous = self.state.live.meeting
        mine = meeting is not None and meeting.id == self._participant_meeting
        self.state.update(
            meeting=meeting,
            plan=None if meeting else plan_detected(now, service.zone),
            room=room,
            muda=detail.muda if detail else None,
            status=self.state.live.status if mine else None,
        )
        if announce and (previous and previous.id) != (meeting and meeting.id):
            self._announce(previous.id if previous else None, detail)
        self._maybe_nudge(settled)

    @Slot()
    def tick(self) -> None:
        """At each minute boundary: keep the local participant alive, refresh."""
        runtime = self.runtime
        if runtime is None:
            return
        live = self.state.live
        try:
            if (
                live.status is not None
                and live.meeting
                and live.meeting.id == self._participant_meeting
            ):
                visit = runtime.service.visit(self._participant_id, ParticipantKind.LOCAL)
                if visit.participant_id != self._participant_id:
                    self._participant_id, self._participant_meeting = None, None
            self.refresh_live()
        except Exception:
            log.exception("The minute update failed; trying again next minute")
        finally:
            self._schedule_tick()

    def _schedule_tick(self) -> None:
        now = datetime.now(UTC)
        next_minute = floor_minute(now) + timedelta(minutes=1, milliseconds=50)
        self._minute.start(int((next_minute - now).total_seconds() * 1000))

    # -- shutting down ----------------------------------------------------

    def shutdown(self) -> None:
        """Stop the server, store the last minutes and close the store."""
        self._minute.stop()
        self._batch.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in list(self._tasks):  # a rebind, or the start-up when quitting early
            task.wait(10)
        runtime = self.runtime
        if runtime is None and self._loader is not None:  # close what the start-up opened
            runtime = self._loader.result if isinstance(self._loader.result, Runtime) else None
        if runtime is None:
            return
        if runtime.server is not None:
            runtime.server.stop()
        try:
            runtime.service.settle()
        finally:
            runtime.close_store()
        self.runtime = None

    # -- internals --------------------------------------------------------

    def _run_task(
        self,
        work: Callable[[], object],
        succeeded: Callable[[object], None],
        failed: Callable[[BaseException], None],
    ) -> Task:
        """Start `work` in a worker; its task is kept until its result has arrived."""
        task = Task(work)
        task.succeeded.connect(succeeded)
        task.failed.connect(failed)
        task.succeeded.connect(self._forget_task)
        task.failed.connect(self._forget_task)
        self._tasks.add(task)
        task.start()
        return task

    @Slot(object)
    def _forget_task(self, _outcome: object) -> None:
        task = self.sender()
        if isinstance(task, Task) and task in self._tasks:
            task.wait()  # its thread is just returning from the emit
            self._tasks.discard(task)
            if task is not self._loader:
                task.deleteLater()

    def _service(self) -> MeterService:
        if self.runtime is None:
            raise RuntimeError("the store is not open yet")  # callers check readiness
        return self.runtime.service

    def _record(self, status: Status) -> None:
        try:
            recorded = self._service().record_status(
                status, self._participant_id, ParticipantKind.LOCAL
            )
        except Exception:
            log.exception("Recording the status failed")
            emit(self.notify, "Status not saved", "Your click could not be saved; see the log.")
            return
        self._participant_id = recorded.participant_id
        self._participant_meeting = recorded.meeting_id
        bucket = recorded.bucket
        self.state.update(
            status=status, room=Counts(bucket.speaking, bucket.engaged, bucket.disengaged)
        )

    def _guarded(self, failure: str, action: Callable[[], object]) -> None:
        """Run a service call for the user; an error becomes a notification."""
        from mudameter_desktop.services import InvalidInputError  # noqa: PLC0415 - loaded late

        try:
            action()
        except InvalidInputError as error:
            emit(self.notify, failure, str(error))
        except Exception:
            log.exception(failure)
            emit(self.notify, failure, "See the log for details.")

    def _detail(self, meeting_id: int) -> MeetingDetail | None:
        from mudameter_desktop.services import NotFoundError  # noqa: PLC0415 - loaded late

        try:
            return self._service().meeting_detail(meeting_id)
        except NotFoundError:
            return None  # deleted meanwhile

    def _announce(self, ended_id: int | None, started: MeetingDetail | None) -> None:
        settings = self._settings()
        if not settings.notify_meetings:
            return
        ended = self._detail(ended_id) if ended_id is not None else None
        if ended is not None:
            emit(self.notify, f"{ended.title} ended", meeting_summary_text(ended, settings))
        if started is not None:
            emit(self.notify, f"{started.title} started", meeting_line(started, self.zone))

    def _maybe_nudge(self, settled: list[Counts]) -> None:
        """Nudge once when more than half the room has been disengaged for 5 minutes."""
        if not (self._settings().nudge_disengaged and room_disengaged_for(settled, NUDGE_MINUTES)):
            self._nudged = False
            return
        if not self._nudged:
            self._nudged = True
            emit(
                self.notify,
                "The room has tuned out",
                f"More than half the room has been disengaged for {NUDGE_MINUTES} minutes.",
            )

    def _settings(self) -> Settings:
        return self.runtime.settings if self.runtime else Settings()

    def _on_hub_change(self, change: MeetingChange) -> None:
        """Called in the writer's thread: hand over to the UI thread."""
        emit(self._hub_changed, change.meeting_id, change.kind.value)

    @Slot(int, str)
    def _on_change(self, meeting_id: int, kind: str) -> None:
        self._pending[meeting_id] = kind
        if not self._batch.isActive():
            self._batch.start()

    @Slot()
    def _flush_changes(self) -> None:
        pending, self._pending = self._pending, {}
        if self.runtime is None:
            return
        emit(self.meetings_changed, pending)
        # The live state is re-read in the next turn of the event loop: the
        # history's update and this one are two short stalls, not one long one
        # (it kept the UI's p99 lag under LAN load above 50 ms).
        QTimer.singleShot(0, self, self._refresh_after_changes)

    @Slot()
    def _refresh_after_changes(self) -> None:
        if self.runtime is None:
            return
        self.refresh_live()
        emit(self.refreshed)
