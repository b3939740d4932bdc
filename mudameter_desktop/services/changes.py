"""A plain-Python "meeting changed" notification (the UI bridges it to Qt)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)


class ChangeKind(StrEnum):
    CREATED = "created"
    STATUS = "status"
    VISIT = "visit"
    UPDATED = "updated"  # renamed, ended, or new minutes settled
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class MeetingChange:
    meeting_id: int
    kind: ChangeKind


Listener = Callable[[MeetingChange], None]


class ChangeHub:
    """Calls every listener, in the publishing thread, after each commit.

    Listeners must be quick and must not raise; a failing one is logged and
    never breaks the write that published.
    """

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, change: MeetingChange) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(change)
            except Exception:
                log.exception("A meeting-change listener failed")
