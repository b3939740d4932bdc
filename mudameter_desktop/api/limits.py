"""Request limits: rate and JSON nesting (checked by the gate), what a connection
may hold of the server before its request is whole (checked by the protocol), and
which client a request behind a trusted reverse proxy comes from."""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

RATE_LIMIT = 600  # requests per window per client address
RATE_WINDOW = 60.0  # seconds
MAX_BODY_BYTES = 16_384
MAX_JSON_DEPTH = 32

_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


class RateLimiter:
    """A sliding window: at most `limit` requests per `window` seconds per address.

    A `limit` of 0 turns it off (a reverse proxy in front limits instead).
    """

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
        if self._limit <= 0:
            return None
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


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_SCOPE_KEY = "mudameter.forwarded_by"  # the trusted proxy a request came through


def proxy_network(text: str) -> IPNetwork:
    """One `--trusted-proxy`: an IP address or a CIDR network; ValueError otherwise."""
    network = ipaddress.ip_network(text.strip(), strict=False)
    if isinstance(network, ipaddress.IPv6Network):
        mapped = network.network_address.ipv4_mapped
        if mapped is not None and network.prefixlen >= 96:  # ::ffff:a.b.c.d/n: the IPv4 one
            return ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}", strict=False)
    return network


@dataclass(frozen=True)
class TrustedProxies:
    """The reverse proxies whose `X-Forwarded-For` is believed (`--trusted-proxy`).

    A request from any other peer is its own client, whatever it says. From a
    trusted proxy the client is the right-most address of `X-Forwarded-For`
    that is not itself a trusted proxy: each proxy appends the peer it saw,
    so everything left of that is the client's own claim.
    """

    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, values: Iterable[str]) -> TrustedProxies:
        return cls(tuple(proxy_network(value) for value in values))

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: object) -> bool:
        if not self.networks or not isinstance(address, str):
            return False
        parsed = _ip(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client_of(self, peer: str, forwarded_for: Iterable[str]) -> str:
        """The client address for rate limits and per-address caps (`peer` unless trusted)."""
        if peer not in self:
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        addresses = [_hop_address(hop) for hop in hops if hop]
        for address in reversed(addresses):
            if address is None:
                return peer  # not an address: the proxy did not write it, nothing is believed
            if address not in self:
                return address
        # Only trusted proxies (a client inside their network), or no header: the first.
        first = addresses[0] if addresses else None
        return first or peer


def _ip(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _hop_address(hop: str) -> str | None:
    """The address in one `X-Forwarded-For` entry (`a.b.c.d`, `a.b.c.d:port`, `[v6]:port`)."""
    text = hop
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    address = _ip(text)
    return None if address is None else str(address)


class ForwardedClients:
    """ASGI middleware in front of the gate: behind a trusted proxy, the client is the one
    `X-Forwarded-For` names (`TrustedProxies.client_of`), so the rate limit, the
    per-address caps and the logs count people, not the proxy.

    A forwarded request is marked (`FORWARDED_SCOPE_KEY`) and never taken for this
    machine's own user, whatever address the proxy names: behind a proxy on the same
    machine every client would otherwise look local.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], proxies: TrustedProxies) -> None:
        self._app = app
        self._proxies = proxies
        self._warned = False

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        if scope["type"] in ("http", "websocket") and peer in self._proxies:
            values = [
                bytes(value).decode("latin-1")
                for name, value in scope.get("headers", [])
                if bytes(name).lower() == b"x-forwarded-for"
            ]
            if not values and not self._warned:
                self._warned = True
                log.warning(
                    "A request from the trusted proxy %s had no X-Forwarded-For: every client "
                    "behind it counts as one address (set the header in the proxy)",
                    peer,
                )
            address = self._proxies.client_of(peer, values)
            scope = {**scope, "client": (address, 0), FORWARDED_SCOPE_KEY: peer}
        await self._app(scope, receive, send)


def is_forwarded(scope: MutableMapping[str, Any]) -> bool:
    """Whether a request reached us through a trusted proxy (`ForwardedClients`)."""
    return FORWARDED_SCOPE_KEY in scope


MAX_HEAD_BYTES = 16_384  # request line + headers; a browser's are about 1-2 KiB
REQUEST_DEADLINE_S = 10.0  # a request head, or a body, from its first byte to its last
CONNECTIONS_PER_ADDRESS = 32  # a browser opens about six; more is someone hoarding them
CONNECTIONS_FROM_LAN = 256  # all other machines together
CONNECTIONS_FROM_LOOPBACK = 64  # this machine's own clients: a budget of their own
CONNECTIONS_FROM_PROXIES = 1024  # trusted reverse proxies carry everyone's requests


@dataclass(frozen=True)
class ConnectionLimits:
    """What one client, and all of them, may hold of the server before a request is whole.

    Loopback clients have their own budget, so the machine's own user is still
    served while the LAN budget is spent. Trusted reverse proxies (`proxies`) carry
    many clients each: their connections share a larger budget of their own.
    """

    max_head_bytes: int = MAX_HEAD_BYTES
    deadline_s: float = REQUEST_DEADLINE_S
    per_address: int = CONNECTIONS_PER_ADDRESS
    from_lan: int = CONNECTIONS_FROM_LAN
    from_loopback: int = CONNECTIONS_FROM_LOOPBACK
    from_proxies: int = CONNECTIONS_FROM_PROXIES
    proxies: TrustedProxies = field(default_factory=TrustedProxies)


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
