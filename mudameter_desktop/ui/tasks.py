"""One task runner and one throttle for the whole UI.

`TaskRunner` runs work in a background thread and hands its result (or its
failure) back to the UI thread: the worker queues a closure, and one signal,
emitted from the worker and received by an object living in the UI thread,
makes Qt run the queued closures there (the idea of Anki's `aqt/taskman.py`).
Work must never touch widgets; callbacks run on the UI thread and may.

`Throttle` calls a function at most once per interval: at once when it has
been quiet, otherwise once at the end of the interval, however many calls came
meanwhile (the idea of qutebrowser's `misc/throttle.py`). `Batch` collects
keyed changes between two such calls, so a burst of LAN clicks is one refresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from mudameter_desktop.ui.signals import emit

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")
Closure = Callable[[], None]


class Job:
    """One piece of work in its own thread; `result` is set once it succeeded."""

    def __init__(self, work: Callable[[], object], report: Callable[[Job], None]) -> None:
        self._work = work
        self._report = report  # called in the worker thread once the work is over
        self.result: object = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.reported = threading.Event()  # `report` returned: the worker touches Qt no more
        self.thread = threading.Thread(target=self._run, name="mudameter-task", daemon=True)

    def _run(self) -> None:
        try:
            self.result = self._work()
        except Exception as error:  # handed to the UI thread, which tells the user
            self.error = error
        finally:
            self.done.set()
            try:
                self._report(self)
            finally:
                self.reported.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the work finished within `timeout` seconds."""
        return self.done.wait(timeout)


class TaskRunner(QObject):
    """Background work with its outcome delivered on the UI thread."""

    _closures_pending = Signal()  # emitted from workers; the slot runs in the UI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._closures: list[Closure] = []
        self._jobs: set[Job] = set()
        self._closures_pending.connect(self._run_closures)

    def run(
        self,
        work: Callable[[], object],
        on_done: Callable[[object], None],
        on_failed: Callable[[BaseException], None] | None = None,
    ) -> Job:
        """Start `work` in a worker thread; `on_done(result)` or `on_failed(error)` follows."""

        def finished(job: Job) -> None:
            self._jobs.discard(job)
            if job.error is None:
                on_done(job.result)
            elif on_failed is not None:
                on_failed(job.error)
            else:
                log.error("Background work failed: %s", job.error, exc_info=job.error)

        job = Job(work, lambda job: self.run_on_main(lambda: finished(job)))
        self._jobs.add(job)
        job.thread.start()
        return job

    def run_on_main(self, closure: Closure) -> None:
        """Run `closure` on the UI thread soon (callable from any thread)."""
        with self._lock:
            self._closures.append(closure)
        try:
            emit(self._closures_pending)
        except RuntimeError:  # the runner was deleted (the app quit): nobody is waiting
            log.debug("A task finished after the UI was gone")

    def wait_all(self, timeout: float) -> None:
        """Wait (up to `timeout` seconds each) for the work still running.

        Until its report is queued, too: a worker must not be emitting into the
        runner when it is deleted after this (a queued closure is just dropped).
        """
        for job in list(self._jobs):
            job.reported.wait(timeout)

    def running(self) -> int:
        return sum(not job.done.is_set() for job in self._jobs)

    @Slot()
    def _run_closures(self) -> None:
        with self._lock:
            closures, self._closures = self._closures, []
        for closure in closures:
            try:
                closure()
            except Exception:  # one failing callback must not drop the others
                log.exception("A background task's callback failed")


class Throttle(QObject):
    """Call `callback` at most once per `interval_ms`, and never lose the last call."""

    def __init__(self, callback: Closure, interval_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._callback = callback
        self._interval = interval_ms / 1000
        self._last: float | None = None  # monotonic time of the last call made
        self._wanted = False
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self._on_timeout)

    def __call__(self) -> None:
        if self._timer.isActive():
            self._wanted = True  # made at the end of the interval
            return
        since = None if self._last is None else time.monotonic() - self._last
        if since is None or since >= self._interval:
            self._call()
        else:
            self._wanted = True
            self._timer.start(max(1, round((self._interval - since) * 1000)))

    def cancel(self) -> None:
        self._timer.stop()
        self._wanted = False

    @Slot()
    def _on_timeout(self) -> None:
        if self._wanted:
            self._call()

    def _call(self) -> None:
        self._wanted = False
        self._last = time.monotonic()
        self._timer.start(max(1, round(self._interval * 1000)))  # the quiet interval
        self._callback()


class Batch(QObject, Generic[K, V]):
    """Keyed changes merged (the latest value wins) and handed on through a `Throttle`."""

    def __init__(
        self,
        callback: Callable[[dict[K, V]], None],
        interval_ms: int,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._callback = callback
        self._pending: dict[K, V] = {}
        self._throttle = Throttle(self._flush, interval_ms, self)

    def add(self, key: K, value: V) -> None:
        self._pending[key] = value
        self._throttle()

    def cancel(self) -> None:
        self._throttle.cancel()
        self._pending = {}

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        if pending:
            self._callback(pending)
