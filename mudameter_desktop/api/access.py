"""Who may use the server: loopback freely, the LAN with the room key."""

from __future__ import annotations

import hmac
import ipaddress
import threading

from mudameter_desktop.settings import new_room_key

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class RoomAccess:
    """Thread-safe holder of the room key and whether LAN clients need it."""

    def __init__(self, key: str, require_key: bool = True) -> None:
        if not key:
            raise ValueError("the room key must not be empty")
        self._key = key
        self._require_key = require_key
        self._lock = threading.Lock()

    @property
    def key(self) -> str:
        with self._lock:
            return self._key

    @property
    def require_key(self) -> bool:
        with self._lock:
            return self._require_key

    @require_key.setter
    def require_key(self, value: bool) -> None:
        with self._lock:
            self._require_key = value

    def regenerate(self) -> str:
        """A new key; the old one is refused from the next request on."""
        key = new_room_key()
        with self._lock:
            self._key = key
        return key

    def accepts(self, candidate: str) -> bool:
        """Whether `candidate` is the current key (compared in constant time)."""
        return hmac.compare_digest(candidate.encode(), self.key.encode())


def is_loopback_address(host: str | None) -> bool:
    """Whether a client address is this machine (127.0.0.0/8, ::1, IPv4-mapped)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_loopback_host_header(host_header: str | None) -> bool:
    """Whether a `Host` header names this machine, so a loopback client is trusted.

    A web page in the local browser could reach the server through a domain
    rebound to 127.0.0.1 (DNS rebinding); its requests carry that domain in
    `Host`, so they are treated like LAN requests and need the key.
    """
    if host_header is None:
        return True  # HTTP/1.0 without Host: not a browser
    name = host_header.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name in LOOPBACK_NAMES or is_loopback_address(name)
