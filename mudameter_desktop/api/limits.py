"""Request limits checked before the app sees a request: rate and JSON nesting."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

RATE_LIMIT = 600  # requests per window per client address
RATE_WINDOW = 60.0  # seconds
MAX_BODY_BYTES = 16_384
MAX_JSON_DEPTH = 32

_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


class RateLimiter:
    """A sliding window: at most `limit` requests per `window` seconds per address."""

    def __init__(
        self,
        limit: int = RATE_LIMIT,
        window: float = RATE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def retry_after(self, address: str) -> int | None:
        """Count a request; None if allowed, else the seconds to wait before retrying."""
        now = self._clock()
        with self._lock:
            if now >= self._next_prune:
                self._prune(now)
            hits = self._hits.setdefault(address, deque(maxlen=self._limit))
            if len(hits) == self._limit and now - hits[0] < self._window:
                return max(1, math.ceil(self._window - (now - hits[0])))
            hits.append(now)
            return None

    def _prune(self, now: float) -> None:
        """Forget addresses idle for a whole window, so memory stays bounded."""
        self._hits = {
            address: hits for address, hits in self._hits.items() if now - hits[-1] < self._window
        }
        self._next_prune = now + self._window


def json_too_deep(body: bytes | bytearray, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests arrays/objects deeper than `limit` (one linear scan).

    Brackets inside strings do not count. Malformed text is left to the JSON
    decoder, which rejects it without recursing this deep.
    """
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif byte in _CLOSERS:
            depth -= 1
    return False
