"""Child process for the concurrency test: N keep-alive HTTP clients for S seconds.

Usage: python load_clients.py URL CLIENTS SECONDS. Each client is one
participant that posts random statuses (and now and then lists meetings)
on its own connection. Prints one JSON line: answers by status code and
transport errors.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter

import httpx

STATUSES = ("speaking", "engaged", "disengaged")


async def client(url: str, until: float, seed: int, codes: Counter[int], errors: list[str]) -> None:
    rng = random.Random(seed)  # noqa: S311 - a load pattern, not a secret
    participant: str | None = None
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) as http:
        while time.monotonic() < until:
            body = {"status": rng.choice(STATUSES)}
            if participant:
                body["participant_id"] = participant
            try:
                answer = await http.post("/users/status", json=body)
                codes[answer.status_code] += 1
                if answer.status_code == 200:
                    participant = answer.json()["participant_id"]
                if rng.random() < 0.05:
                    codes[(await http.get("/meetings")).status_code] += 1
            except httpx.HTTPError as error:
                errors.append(repr(error))


async def main(url: str, clients: int, seconds: float) -> None:
    codes: Counter[int] = Counter()
    errors: list[str] = []
    until = time.monotonic() + seconds
    await asyncio.gather(*(client(url, until, seed, codes, errors) for seed in range(clients)))
    print(json.dumps({"codes": codes, "errors": errors[:20], "error_count": len(errors)}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
