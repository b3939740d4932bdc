"""Client run inside the test's network namespace: a LAN machine, as far as the server sees.

Usage: python lan_client.py BASE_URL STEPS_JSON. STEPS is a list of
{"method", "path", "headers"?, "json"?, "repeat"?}; steps share one client, so
a cookie set by one step is sent by the next (as a phone's browser would).
Prints a JSON list with, per step, every answer's status, headers and body
(a repeated step gives its status counts and the first Retry-After instead).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

import httpx


def run(base_url: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with httpx.Client(base_url=base_url, timeout=10.0, follow_redirects=False) as client:
        for step in steps:
            repeat = int(step.get("repeat", 1))
            counts: Counter[int] = Counter()
            retry_after = None
            answer = None
            for _ in range(repeat):
                answer = client.request(
                    step["method"], step["path"], headers=step.get("headers"), json=step.get("json")
                )
                counts[answer.status_code] += 1
                if answer.status_code == 429 and retry_after is None:
                    retry_after = answer.headers.get("retry-after")
            assert answer is not None
            results.append(
                {
                    "status": answer.status_code,
                    "headers": dict(answer.headers.multi_items()),
                    "set_cookie": answer.headers.get_list("set-cookie"),
                    "body": answer.text[:4000],
                    "counts": {str(code): count for code, count in counts.items()},
                    "retry_after": retry_after,
                }
            )
    return results


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], json.loads(sys.argv[2]))))
