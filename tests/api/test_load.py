"""50 clients posting statuses over a real socket for 5 s: no 5xx, exact buckets."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest

from mudameter_desktop.api.server import ServerThread

THREADS = 50
SECONDS = 5.0
STATUSES = ("speaking", "engaged", "disengaged")


@pytest.mark.slow
def test_fifty_clients_for_five_seconds(server: ServerThread) -> None:
    """Each client alternates between two statuses in the same (frozen) minute."""
    deadline = [0.0]
    requests = Counter[int]()
    failures: list[str] = []
    lock = threading.Lock()

    def set_deadline() -> None:
        deadline[0] = time.monotonic() + SECONDS

    start = threading.Barrier(THREADS, action=set_deadline)  # the clock starts when all are ready

    def client(number: int) -> None:
        statuses = (STATUSES[number % 3], STATUSES[(number + 1) % 3])
        participant_id = None
        done = Counter[int]()
        try:
            with httpx.Client(base_url=server.local_url, timeout=10) as http:
                start.wait(timeout=30)
                while time.monotonic() < deadline[0] or participant_id is None or done.total() < 2:
                    status = statuses[done.total() % 2]
                    answer = http.post(
                        "/users/status", json={"status": status, "participant_id": participant_id}
                    )
                    done[answer.status_code] += 1
                    if answer.status_code != 200:
                        raise AssertionError(f"{answer.status_code}: {answer.text}")
                    if participant_id not in {None, answer.json()["participant_id"]}:
                        raise AssertionError("the participant changed")
                    participant_id = answer.json()["participant_id"]
        except Exception as error:  # every failure is reported below
            with lock:
                failures.append(f"client {number}: {error!r}")
        with lock:
            requests.update(done)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 60)
    assert not any(thread.is_alive() for thread in threads)

    total = requests.total()
    print(f"\n{THREADS} clients, {SECONDS:.0f} s: {total} requests, codes {dict(requests)}")
    assert failures == []
    assert set(requests) == {200}
    assert total >= THREADS * 2

    detail = httpx.get(f"{server.local_url}meetings/1").json()
    assert detail["participant_count"] == THREADS
    minute = detail["engagement_samples"][-1]
    assert minute["minute"] == "2026-11-27T10:15:00Z"
    expected = dict.fromkeys(STATUSES, 0)
    for number in range(THREADS):  # every client held both of its statuses in this minute
        expected[STATUSES[number % 3]] += 1
        expected[STATUSES[(number + 1) % 3]] += 1
    assert {status: minute[status] for status in STATUSES} == expected
