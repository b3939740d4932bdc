"""Request limits: rate and JSON nesting (checked by the gate), and what a connection
may hold of the server before its request is whole (checked by the protocol)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

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


MAX_HEAD_BYTES = 16_384  # request line + headers; a browser's are about 1-2 KiB
REQUEST_DEADLINE_S = 10.0  # a request head, or a body, from its first byte to its last
CONNECTIONS_PER_ADDRESS = 32  # a browser opens about six; more is someone hoarding them
CONNECTIONS_FROM_LAN = 256  # all other machines together
CONNECTIONS_FROM_LOOPBACK = 64  # this machine's own clients: a budget of their own


@dataclass(frozen=True)
class ConnectionLimits:
    """What one client, and all of them, may hold of the server before a request is whole.

    Loopback clients have their own budget, so the machine's own user is still
    served while the LAN budget is spent.
    """

    max_head_bytes: int = MAX_HEAD_BYTES
    deadline_s: float = REQUEST_DEADLINE_S
    per_address: int = CONNECTIONS_PER_ADDRESS
    from_lan: int = CONNECTIONS_FROM_LAN
    from_loopback: int = CONNECTIONS_FROM_LOOPBACK


def raise_open_file_limit() -> tuple[int, int] | None:
    """Raise the soft limit on open files to the hard one; the (soft, hard) now, or None.

    Every connection holds a file descriptor; Linux's soft default (1 024)
    and macOS's (256) are far below what the hard limit allows.
    """
    try:
        import resource  # noqa: PLC0415 - POSIX only
    except ImportError:  # Windows: no such limit to raise
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    # macOS refuses an unlimited soft limit (and anything above its OPEN_MAX).
    for target in (65_536, 10_240) if hard == unlimited else (hard,):
        if soft == unlimited or soft >= target:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):
            continue
        break
    return resource.getrlimit(resource.RLIMIT_NOFILE)
