"""The tray's logic without widgets: clicks, meetings, live state, notifications.

The UI shows the service's truth and re-derives nothing: after each batch of
changes, each own click and each minute tick it asks `MeterService.live_view`
(answered from the service's memory, no SQL) which meeting a click goes to,
the room now, your status and the muda so far.

Service notifications arrive in the writer's thread (a LAN request's, or
ours); `_hub_changed` carries them to the UI thread, where a `Batch` merges a
burst of them into one refresh.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from mudameter_desktop.api.network import stop_if_network_left
from mudameter_desktop.domain.buckets import room_disengaged_for
from mudameter_desktop.domain.meetings import floor_minute
from mudameter_desktop.domain.statuses import Counts, ParticipantKind, Status
from mudameter_desktop.runtime import Runtime, host_for, is_shared
from mudameter_desktop.services.changes import ChangeKind, MeetingChange
from mudameter_desktop.settings import Settings, save_settings
from mudameter_desktop.ui import autostart
from mudameter_desktop.ui.signals import emit
from mudameter_desktop.ui.state import (
    MeterState,
    length_minutes,
    meeting_line,
    people,
    percent,
    wasted_text,
)
from mudameter_desktop.ui.tasks import Batch, Job, TaskRunner

if TYPE_CHECKING:  # the service layer imports SQLAlchemy: loaded after the tray shows
    from mudameter_desktop.services.meter import MeterService
    from mudameter_desktop.services.room_watch import RoomNow, RoomWatch
    from mudameter_desktop.services.team_client import DroppedClick, TeamClient, TeamState
    from mudameter_desktop.services.views import LiveView, MeetingSummary

log = logging.getLogger(__name__)

BATCH_MS = 150  # LAN clicks arriving within this are one refresh
NETWORK_CHECK_MS = 5_000  # how soon a lost network stops sharing
RETRY_MS = 15_000  # a store that could not be opened is tried again this often
NUDGE_MINUTES = 5


def meeting_summary_text(meeting: MeetingSummary, settings: Settings) -> str:
    minutes = length_minutes(meeting)
    return (
        f"{minutes} min, {people(meeting.participant_count)}, "
        f"muda {percent(meeting.muda)}, wasted {wasted_text(meeting.totals, settings)}"
    )


class MeterController(QObject):
    ready = Signal()
    failed = Signal(str)
    refreshed = Signal()  # the live state was re-read after changes
    meetings_changed = Signal(object)  # dict[int, ChangeKind]: a batch of changed meetings
    settings_changed = Signal(object)  # the Settings, saved and applied
    notify = Signal(str, str)  # title, message for a tray notification
    _hub_changed = Signal(object)  # a MeetingChange, emitted in the writer's thread
    # From a team server room's client threads, each with the client it came from (a
    # report of a client already replaced by a new connection is not shown):
    _team_state = Signal(object, object)  # TeamClient, TeamState: the sender thread's
    _team_dropped = Signal(object)  # a DroppedClick (shown whichever client dropped it)
    _room_changed = Signal(object, object)  # RoomWatch, RoomNow: its reading thread's
    _room_event = Signal(object, object)  # RoomWatch, MeetingChange or None: its events'
    resynced = Signal()  # a team server room's changes may have been missed: read it all again
    connection_changed = Signal()  # connected to another room, or back to this computer's

    def __init__(self, state: MeterState, tasks: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.tasks = tasks
        self.runtime: Runtime | None = None
        self._open: Callable[[], Runtime] | None = None  # kept for a retry
        self._loader: Job | None = None
        self._failure: str | None = None  # why the store could not be opened, last time
        self._closed = False
        self._queued: list[Status] = []  # clicks made before the store was ready
        self._participant_id: str | None = None
        self._meeting_id: int | None = None  # the meeting shown, to announce a change
        self._nudged = False
        self._unsubscribe: Callable[[], None] | None = None
        self._changes: Batch[int, ChangeKind] = Batch(self._flush_changes, BATCH_MS, self)
        self._minute = QTimer(self, singleShot=True)
        self._minute.timeout.connect(self.tick)
        self._retry = QTimer(self, singleShot=True, interval=RETRY_MS)
        self._retry.timeout.connect(self.retry)
        self._hub_changed.connect(self._on_change)
        self._team_state.connect(self._on_team_state)
        self._team_dropped.connect(self._on_team_dropped)
        self._room_changed.connect(self._on_room_changed)
        self._room_event.connect(self._on_room_event)
        self._room: RoomNow | None = None  # a team server room's live view, as last read
        self._status_meeting: int | None = None  # the remote meeting of the last click
        # Sharing stops when the laptop leaves the network it shares on (lan-access).
        self._network = QTimer(self, interval=NETWORK_CHECK_MS)
        self._network.timeout.connect(self.check_network)
        self._network.start()

    # -- loading ----------------------------------------------------------

    def load(self, work: Callable[[], Runtime]) -> None:
        """Open the backend in a worker thread; `ready` or `failed` follows."""
        self._open = work
        self._loader = self.tasks.run(work, self._on_loaded, self._on_failed)

    @Slot()
    def retry(self) -> None:
        """Try again to open a backend that failed (the tray's "Retry", or every 15 s)."""
        self._retry.stop()
        loading = self._loader is not None and not self._loader.done.is_set()
        if self._closed or self.runtime is not None or loading or self._open is None:
            return
        self.state.update(error="Opening the database again…")
        self._loader = self.tasks.run(self._open, self._on_loaded, self._on_failed)

    def _on_loaded(self, runtime: object) -> None:
        if not isinstance(runtime, Runtime):
            raise TypeError(f"the loader returned {runtime!r}, not a Runtime")
        if self._closed:  # quit while it was opening: close what it opened
            runtime.close()
            return
        self.runtime = runtime
        self._unsubscribe = runtime.service.changes.subscribe(self._on_hub_change)
        server = runtime.server
        team = runtime.team
        self.state.update(
            ready=True,
            error=runtime.server_error and f"Server not running: {runtime.server_error}",
            share_on_lan=is_shared(server) if server else runtime.settings.share_on_lan,
            local_url=server.local_url if server else "",
            # Connected, phones join the team server's room: its link comes with its view.
            join_url=server.join_url() if server and not team else "",
            team_room=team.link.slug if team else "",
            waiting=team.state.waiting if team else 0,
        )
        self._start_team(runtime)
        queued, self._queued = self._queued, []
        for status in queued:
            self._record(status)
        self.refresh_live(announce=False)
        self._schedule_tick()
        if runtime.store_notice:
            emit(self.notify, "Started with a fresh database", runtime.store_notice)
        emit(self.ready)

    def _on_failed(self, error: BaseException) -> None:
        """No store: say why, take back the clicks it could not keep, try again later."""
        message = str(error) or type(error).__name__
        log.error("Muda Meter could not open its database: %s", message)
        log.debug("The opening failed with", exc_info=error)  # the detail, never on the console
        first, self._failure = self._failure != message, message  # tell once, not every retry
        self._queued = []
        self.state.update(error=message, status=None)
        if not self._closed:
            self._retry.start()
        if first:
            emit(self.failed, message)

    @property
    def zone(self) -> tzinfo:
        return self.runtime.service.zone if self.runtime else UTC

    # -- user actions -----------------------------------------------------

    def set_status(self, status: Status) -> None:
        """A click: recorded at once, or queued until the store is ready."""
        if self.runtime is None:
            if self.state.live.failed:
                return  # nowhere to keep it: the actions are disabled meanwhile
            self._queued.append(status)
            self.state.update(status=status)
            return
        self._record(status)

    def start_meeting(self, title: str, duration_minutes: int) -> None:
        runtime = self.runtime
        if runtime is None:
            return
        failure, chosen = "The meeting could not be started", title.strip() or None
        if runtime.remote is not None:  # over HTTP: in a worker
            remote = runtime.remote
            self._remotely(failure, lambda: remote.start_meeting(chosen, duration_minutes))
            return
        self._guarded(
            failure,
            lambda: self._service().start_meeting(title=chosen, duration_minutes=duration_minutes),
        )
        self.refresh_live()

    def end_meeting(self) -> None:
        live, runtime = self.state.live, self.runtime
        if runtime is None or live.meeting is None or not live.running:
            return
        failure = "The meeting could not be ended"
        if runtime.remote is not None:
            remote, meeting_id = runtime.remote, live.meeting.id
            self._remotely(failure, lambda: remote.end_meeting(meeting_id))
            return
        self._guarded(failure, self._service().end_meeting)
        self.refresh_live()

    def set_team_server(self, host_link: str) -> None:
        """Connect to the team server room of `host_link` now, or with "" go back to this
        computer's store (whose history stays as it was). The link is remembered."""
        runtime = self.runtime
        if runtime is None or host_link == runtime.settings.team_server:
            return
        from mudameter_desktop.runtime import connect, disconnect  # noqa: PLC0415 - cheap

        self.save_settings(runtime.settings.with_changes(team_server=host_link))
        self.tasks.run(disconnect(runtime), _ignore, _ignore)  # may wait on a request
        connect(runtime, host_link)
        self._room, self._status_meeting, self._meeting_id = None, None, None
        server, team = runtime.server, runtime.team
        self.state.update(
            status=None,
            team_room=team.link.slug if team else "",
            waiting=team.state.waiting if team else 0,
            offline=False,
            stale=False,
            join_url=server.join_url() if server and not team else "",
        )
        self._start_team(runtime)
        # The embedded server: loopback while connected, the saved choice otherwise.
        shared = runtime.settings.share_on_lan and team is None
        if server is not None and is_shared(server) != shared:
            self.tasks.run(
                lambda: server.rebind(host_for(shared)), self._on_rebound, self._on_rebind_failed
            )
        self.refresh_live(announce=False)
        emit(self.connection_changed)

    def _start_team(self, runtime: Runtime) -> None:
        """Start the room's clients; their reports reach the UI thread by signal."""
        team, watch = runtime.team, runtime.watch
        if team is not None:
            team.start(
                on_state=lambda state: emit(self._team_state, team, state),
                on_dropped=lambda click: emit(self._team_dropped, click),
            )
        if watch is not None:
            watch.start(
                lambda now: emit(self._room_changed, watch, now),
                lambda change: emit(self._room_event, watch, change),
            )

    def set_share_on_lan(self, share: bool) -> None:
        """Rebind the server (in a worker) and remember the choice."""
        runtime = self.runtime
        if runtime is None:
            return
        if share and runtime.team is not None:
            emit(
                self.notify,
                "Not shared on the LAN",
                "Your clicks go to a team server: phones join its page, not this computer.",
            )
            self.state.update(share_on_lan=False)
            return
        self.save_settings(runtime.settings.with_changes(share_on_lan=share))
        server = runtime.server
        if server is None:
            self.state.update(share_on_lan=share)
            return
        self.tasks.run(
            lambda: server.rebind(host_for(share)),  # the current network
            self._on_rebound,
            self._on_rebind_failed,
        )

    def _on_rebound(self, _result: object) -> None:
        runtime = self.runtime
        if runtime is not None and runtime.server is not None:
            connected = runtime.team is not None  # phones join the room: its link stays
            self.state.update(
                share_on_lan=is_shared(runtime.server),
                local_url=runtime.server.local_url,
                join_url=self.state.live.join_url if connected else runtime.server.join_url(),
            )

    def _on_rebind_failed(self, error: BaseException) -> None:
        log.warning("Rebinding the server failed: %s", error)
        emit(self.notify, "Share on LAN failed", str(error))
        self._on_rebound(None)

    @Slot()
    def check_network(self) -> None:
        """Stop sharing, and say so, once the shared address has left this machine."""
        runtime = self.runtime
        server = runtime.server if runtime is not None else None
        if server is None or not is_shared(server) or self._closed:
            return
        self.tasks.run(lambda: stop_if_network_left(server), self._on_network_checked)

    def _on_network_checked(self, message: object) -> None:
        runtime = self.runtime
        if not isinstance(message, str) or runtime is None:
            return
        log.warning("Stopped sharing on the LAN: the shared address left this machine")
        self.save_settings(runtime.settings.with_changes(share_on_lan=False))
        self._on_rebound(None)
        emit(self.notify, "Sharing on the LAN stopped", message)

    def new_room_key(self) -> None:
        """Revoke the room key at once and keep the new one for the next start."""
        runtime = self.runtime
        if runtime is None:
            return
        if runtime.team is not None:
            emit(
                self.notify,
                "The room key is the team server's",
                "Its administrator gives the room a new key: mudameter rooms new-key SLUG.",
            )
            return
        key = runtime.access.regenerate()
        self.save_settings(runtime.settings.with_changes(room_key=key))
        if runtime.server is not None:
            self.state.update(join_url=runtime.server.join_url())

    def save_settings(self, settings: Settings) -> None:
        """Persist `settings`, apply what can change while running, tell the windows."""
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
        emit(self.settings_changed, settings)

    @Slot(str)
    def remember_export_folder(self, folder: str) -> None:
        """The folder the next export dialog opens in."""
        runtime = self.runtime
        if runtime is not None and folder != runtime.settings.export_folder:
            self.save_settings(runtime.settings.with_changes(export_folder=folder))

    @property
    def settings(self) -> Settings:
        return self.runtime.settings if self.runtime else Settings()

    # -- live state -------------------------------------------------------

    def refresh_live(self, announce: bool = True) -> None:
        """Show the live view: the service's (from its memory: no SQL while the meeting is
        known), or a team server room's as last read (`services.room_watch`)."""
        runtime = self.runtime
        if runtime is None:
            return
        if runtime.watch is None:
            view: LiveView | None = runtime.service.live_view(self._participant_id)
        else:
            view = self._remote_view()
        if view is None:  # the team server's room not read yet
            self.state.update(meeting=None, plan=None, running=False, room=Counts(), muda=None)
            return
        previous, current = self._meeting_id, view.meeting.id if view.meeting else None
        self._meeting_id = current
        self.state.update(
            meeting=view.meeting,
            plan=view.plan,
            running=view.running,
            room=view.room,
            status=view.status,
            muda=view.muda,
            stale=self._room is not None and self._room.stale,
        )
        if announce and previous != current:
            self._announce(previous, view)
        self._maybe_nudge(view)

    def _remote_view(self) -> LiveView | None:
        """The room's view as last read, with this app's status while its click's meeting
        is the one shown (the server's view is the room's, not a person's)."""
        view = self._room.view if self._room is not None else None
        if view is None:
            return None
        shown = view.meeting.id if view.meeting else None
        status = self.state.live.status
        if self._status_meeting is None:
            self._status_meeting = shown  # clicked before its meeting existed
        elif self._status_meeting != shown:
            status = None  # another meeting now: the click counts in its own
        return replace(view, status=status)

    @Slot(object, object)
    def _on_room_changed(self, watch: RoomWatch, now: RoomNow) -> None:
        if self.runtime is None or watch is not self.runtime.watch:
            return
        self._room = now
        if now.join_link:
            self.state.update(join_url=now.join_link)
        self.refresh_live()
        emit(self.refreshed)

    @Slot(object, object)
    def _on_room_event(self, watch: RoomWatch, change: MeetingChange | None) -> None:
        """A change in the team server's room: the same path as the local store's."""
        if self.runtime is None or watch is not self.runtime.watch:
            return
        if change is None:
            emit(self.resynced)
        else:
            self._on_change(change)

    @Slot()
    def tick(self) -> None:
        """At each minute boundary: refresh, and keep the local participant alive."""
        runtime = self.runtime
        if runtime is None:
            return
        try:
            self.refresh_live()
            if runtime.team is not None:
                return  # the room's host participant lives on the team server
            if self._participant_id is not None and self.state.live.status is not None:
                # Only while their status is in the meeting shown: a visit to another
                # meeting would make the tray's person leave theirs (SPEC §1, Leaving).
                visit = runtime.service.visit(self._participant_id, ParticipantKind.LOCAL)
                if visit.participant_id != self._participant_id:
                    self._participant_id = None
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
        self._closed = True
        self._minute.stop()
        self._retry.stop()
        self._network.stop()
        self._changes.cancel()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.tasks.wait_all(10)  # a rebind, or the start-up when quitting early
        runtime = self.runtime
        if runtime is None and self._loader is not None and self._loader.done.is_set():
            # Opened, but its result has not reached the UI thread yet.
            runtime = self._loader.result if isinstance(self._loader.result, Runtime) else None
            self._loader = None
        self.runtime = None
        if runtime is not None:
            runtime.close()

    # -- internals --------------------------------------------------------

    def _service(self) -> MeterService:
        if self.runtime is None:
            raise RuntimeError("the store is not open yet")  # callers check readiness
        return self.runtime.service

    def _record(self, status: Status) -> None:
        team = self.runtime.team if self.runtime is not None else None
        if team is not None:
            self._send(team, status)
            return
        try:
            recorded = self._service().record_status(
                status, self._participant_id, ParticipantKind.LOCAL
            )
        except Exception:
            log.exception("Recording the status failed")
            emit(self.notify, "Status not saved", "Your click could not be saved; see the log.")
            self.refresh_live(announce=False)
            return
        self._participant_id = recorded.participant_id
        self.refresh_live()

    def _send(self, team: TeamClient, status: Status) -> None:
        """A click to the team server's room: kept in the local outbox now, sent by its thread."""
        try:
            team.record_status(status)
        except Exception:
            log.exception("Keeping the click for the team server failed")
            emit(self.notify, "Status not saved", "Your click could not be saved; see the log.")
            return
        self._status_meeting = self._meeting_id
        self.state.update(status=status)

    @Slot(object, object)
    def _on_team_state(self, team: TeamClient, state: TeamState) -> None:
        if self.runtime is not None and team is self.runtime.team:
            self.state.update(offline=not state.online, waiting=state.waiting)

    @Slot(object)
    def _on_team_dropped(self, click: DroppedClick) -> None:
        at = click.at.astimezone(self.zone)
        emit(
            self.notify,
            "A click was not recorded",
            f"The team server refused your {click.status.value} click of {at:%H:%M}: "
            f"{click.reason}",
        )

    def _guarded(self, failure: str, action: Callable[[], object]) -> None:
        """Run a service call for the user; an error becomes a notification."""
        from mudameter_desktop.services.errors import (  # noqa: PLC0415 - cheap, no SQLAlchemy
            InvalidInputError,
            NotFoundError,
        )

        try:
            action()
        except (InvalidInputError, NotFoundError) as error:
            emit(self.notify, failure, str(error))
        except Exception:
            log.exception(failure)
            emit(self.notify, failure, "See the log for details.")

    def _remotely(self, failure: str, action: Callable[[], object]) -> None:
        """A host action on the team server's room, in a worker; the room's events and
        the watch's next read show its effect, a failure becomes a notification."""

        def failed(error: BaseException) -> None:
            from mudameter_desktop.services.errors import (  # noqa: PLC0415 - cheap
                InvalidInputError,
                NotFoundError,
            )
            from mudameter_desktop.services.remote_room import RemoteError  # noqa: PLC0415

            if isinstance(error, InvalidInputError | NotFoundError | RemoteError):
                emit(self.notify, failure, str(error))
            else:
                log.error("%s", failure, exc_info=error)
                emit(self.notify, failure, "See the log for details.")

        self.tasks.run(action, self._refresh_room, failed)

    def _refresh_room(self, _result: object = None) -> None:
        """Read the team server room's view again (after a host action)."""
        if self.runtime is not None and self.runtime.watch is not None:
            self.runtime.watch.refresh()

    def _announce(self, ended_id: int | None, view: LiveView) -> None:
        """The meeting shown changed: the one left behind (read once), and the new one."""
        from mudameter_desktop.services.errors import NotFoundError  # noqa: PLC0415 - cheap

        settings, runtime = self.settings, self.runtime
        if not settings.notify_meetings or runtime is None:
            return
        if ended_id is not None and runtime.remote is not None:  # read in a worker
            remote = runtime.remote
            self.tasks.run(lambda: remote.summary(ended_id), self._announce_ended, _ignore)
        elif ended_id is not None:
            with contextlib.suppress(NotFoundError):  # deleted: nothing to sum up
                self._announce_ended(self._service().history.summary(ended_id))
        if view.meeting is not None:
            emit(
                self.notify, f"{view.meeting.title} started", meeting_line(view.meeting, self.zone)
            )

    def _announce_ended(self, ended: object) -> None:
        from mudameter_desktop.services.views import MeetingSummary  # noqa: PLC0415 - cheap

        if isinstance(ended, MeetingSummary):
            settings = self.settings
            emit(self.notify, f"{ended.title} ended", meeting_summary_text(ended, settings))

    def _maybe_nudge(self, view: LiveView) -> None:
        """Nudge once when more than half the room has been disengaged for 5 minutes."""
        if not (self.settings.nudge_disengaged and room_disengaged_for(view.recent, NUDGE_MINUTES)):
            self._nudged = False
            return
        if not self._nudged:
            self._nudged = True
            emit(
                self.notify,
                "The room has tuned out",
                f"More than half the room has been disengaged for {NUDGE_MINUTES} minutes.",
            )

    def _on_hub_change(self, change: MeetingChange) -> None:
        """Called in the writer's thread: hand over to the UI thread."""
        emit(self._hub_changed, change)

    @Slot(object)
    def _on_change(self, change: MeetingChange) -> None:
        self._changes.add(change.meeting_id, change.kind)

    def _flush_changes(self, changes: dict[int, ChangeKind]) -> None:
        if self.runtime is None:
            return
        emit(self.meetings_changed, changes)
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


def _ignore(outcome: object) -> None:
    """Work whose outcome nobody waits for: a sum-up that could not be read (deleted, or
    the server away) is not announced, old clients that stopped are gone."""
    log.debug("Background work ended with %r", outcome)
