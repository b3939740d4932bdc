"""A small asyncio load generator: keep-alive HTTP/1.1 clients on 127.0.0.1 only.

Each client is one participant: it POSTs /visit once, then POSTs
/users/status with its participant id as fast as it can until the time or
request budget runs out. Hand-written HTTP keeps the client's own CPU cost
low, which matters on a 2-core machine shared with the server.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from dataclasses import dataclass, field

STATUSES = ("speaking", "engaged", "disengaged")


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0  # 5xx or broken connections
    statuses: dict[int, int] = field(default_factory=dict)
    participants: set[str] = field(default_factory=set)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> dict[str, float | int]:
        return {
            "clients": self.clients,
            "requests": self.requests,
            "errors": self.errors,
            "req_per_s": round(self.throughput, 1),
            "p50_ms": round(statistics.median(self.latencies_ms), 2) if self.latencies_ms else 0,
            "p99_ms": round(self.percentile(0.99), 2),
        }


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: dict[str, str]
) -> tuple[int, dict[str, object]]:
    payload = json.dumps(body).encode()
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    data = await reader.readexactly(length) if length else b""
    return status, json.loads(data) if data else {}


async def _client(port: int, deadline: float, budget: int, result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        _, visit = await _request(reader, writer, "/visit", {})
        participant = str(visit.get("participant_id", ""))
        sent = 0
        while time.perf_counter() < deadline and sent < budget:
            body = {"status": random.choice(STATUSES), "participant_id": participant}  # noqa: S311
            started = time.perf_counter()
            try:
                status, answer = await _request(reader, writer, "/users/status", body)
            except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
                result.errors += 1
                return
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status >= 500:
                result.errors += 1
            participant = str(answer.get("participant_id", participant))
            result.participants.add(participant)
            sent += 1
    finally:
        writer.close()


async def run_load(port: int, clients: int, seconds: float, budget: int = 50_000) -> LoadResult:
    """`clients` keep-alive participants posting statuses for `seconds` (bounded)."""
    result = LoadResult(clients, seconds)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client(port, deadline, budget, result) for _ in range(clients)))
    result.seconds = time.perf_counter() - started
    return result


if __name__ == "__main__":
    import sys

    port_arg, clients_arg, seconds_arg = sys.argv[1:4]
    outcome = asyncio.run(run_load(int(port_arg), int(clients_arg), float(seconds_arg)))
    print(json.dumps(outcome.summary()))
