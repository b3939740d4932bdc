"""The one task runner and the one throttle (ui/tasks.py)."""

from __future__ import annotations

import threading

from pytestqt.qtbot import QtBot

from mudameter_desktop.ui.tasks import Batch, TaskRunner, Throttle


def test_work_runs_in_a_worker_and_its_result_arrives_on_the_ui_thread(qtbot: QtBot) -> None:
    runner = TaskRunner()
    threads: dict[str, threading.Thread] = {}
    results: list[object] = []

    def work() -> int:
        threads["work"] = threading.current_thread()
        return 42

    def done(result: object) -> None:
        threads["done"] = threading.current_thread()
        results.append(result)

    job = runner.run(work, done)
    qtbot.waitUntil(lambda: results == [42])
    assert job.result == 42
    assert threads["work"] is not threading.main_thread()
    assert threads["done"] is threading.main_thread()
    assert runner.running() == 0


def test_a_failure_arrives_on_the_ui_thread_too(qtbot: QtBot) -> None:
    runner = TaskRunner()
    failures: list[tuple[BaseException, threading.Thread]] = []

    def work() -> None:
        raise OSError("disk full")

    runner.run(
        work,
        lambda _result: None,
        lambda error: failures.append((error, threading.current_thread())),
    )
    qtbot.waitUntil(lambda: len(failures) == 1)
    error, thread = failures[0]
    assert isinstance(error, OSError) and str(error) == "disk full"
    assert thread is threading.main_thread()


def test_the_throttle_calls_at_once_then_once_at_the_end_of_a_burst(qtbot: QtBot) -> None:
    calls: list[None] = []
    throttle = Throttle(lambda: calls.append(None), 100)
    throttle()
    assert len(calls) == 1  # quiet before: at once
    for _ in range(50):
        throttle()
    assert len(calls) == 1
    qtbot.waitUntil(lambda: len(calls) == 2)  # the burst: once, at the end of the interval
    qtbot.wait(250)
    assert len(calls) == 2


def test_a_batch_merges_keyed_changes_latest_first(qtbot: QtBot) -> None:
    batches: list[dict[int, str]] = []
    batch: Batch[int, str] = Batch(batches.append, 100)
    batch.add(1, "created")
    batch.add(1, "status")
    batch.add(2, "status")
    batch.add(1, "deleted")
    qtbot.waitUntil(lambda: len(batches) == 2)
    assert batches == [{1: "created"}, {1: "deleted", 2: "status"}]
