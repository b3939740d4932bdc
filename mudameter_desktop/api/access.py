"""Who may use the server: loopback freely, the LAN with the room key or a device token.

A phone trades the room key once for a *device token* (a cookie): the token
is an HMAC of the key, so it never reveals the key, it expires, and "New room
key" revokes every token issued for the old key at once, with no list of
tokens to keep (tokens survive a restart of the app, as the key does).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
import threading
import time
from collections.abc import Callable

from mudameter_desktop.hosts import LOOPBACK_NAMES, is_loopback_address
from mudameter_desktop.settings import new_room_key

DEVICE_TOKEN_LIFETIME = 30 * 24 * 3600  # seconds: a joined phone rejoins after 30 days idle
_TOKEN_VERSION = "d1"  # noqa: S105  # nosec B105
_TOKEN_LABEL = b"mudameter-device-token:"
_NONCE_BYTES = 16
_TOKEN_PARTS = 4  # version, expiry, nonce, MAC
_MAX_EXPIRY_DIGITS = 12


class RoomAccess:
    """Thread-safe holder of the room key, its device tokens, and whether LAN clients need it."""

    def __init__(
        self,
        key: str,
        require_key: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not key:
            raise ValueError("the room key must not be empty")
        self._key = key
        self._require_key = require_key
        self._clock = clock
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
        """A new key; the old one and every device token issued for it are refused
        from the next request on."""
        key = new_room_key()
        with self._lock:
            self._key = key
        return key

    def accepts(self, candidate: str) -> bool:
        """Whether `candidate` is the current key (compared in constant time)."""
        return hmac.compare_digest(candidate.encode(), self.key.encode())

    def issue_token(self, lifetime: int = DEVICE_TOKEN_LIFETIME) -> str:
        """A new device token for the current key, valid for `lifetime` seconds."""
        expires = int(self._clock()) + lifetime
        nonce = _b64(secrets.token_bytes(_NONCE_BYTES))
        body = f"{_TOKEN_VERSION}.{expires}.{nonce}"
        return f"{body}.{self._mac(body, self.key)}"

    def token_expiry(self, token: str) -> int | None:
        """The Unix time a valid, unexpired token of the current key expires, else None."""
        parts = token.split(".")
        if len(parts) != _TOKEN_PARTS or parts[0] != _TOKEN_VERSION:
            return None
        expiry = parts[1]
        if not (expiry.isascii() and expiry.isdigit() and len(expiry) <= _MAX_EXPIRY_DIGITS):
            return None
        body = token.rpartition(".")[0]
        if not hmac.compare_digest(parts[3].encode(), self._mac(body, self.key).encode()):
            return None
        expires = int(expiry)
        return expires if expires > self._clock() else None

    def wants_renewal(self, expiry: int) -> bool:
        """Whether a token expiring at `expiry` is past half its life."""
        return expiry - self._clock() < DEVICE_TOKEN_LIFETIME / 2

    def accepts_token(self, token: str) -> bool:
        return self.token_expiry(token) is not None

    @staticmethod
    def _mac(body: str, key: str) -> str:
        digest = hmac.new(key.encode(), _TOKEN_LABEL + body.encode(), hashlib.sha256).digest()
        return _b64(digest)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def host_name_of(host_header: str) -> str:
    """The name or address in a `Host` header, without port or IPv6 brackets."""
    name = host_header.strip().lower()
    if name.startswith("["):
        return name[1 : name.find("]")] if "]" in name else name[1:]
    if name.count(":") == 1:
        return name.split(":", 1)[0]
    return name


def is_loopback_host_header(host_header: str | None) -> bool:
    """Whether a `Host` header names this machine, so a loopback client is trusted.

    A web page in the local browser could reach the server through a domain
    rebound to 127.0.0.1 (DNS rebinding); its requests carry that domain in
    `Host`, so they are treated like LAN requests and need the key.
    """
    if host_header is None:
        return True  # HTTP/1.0 without Host: not a browser
    name = host_name_of(host_header)
    return name in LOOPBACK_NAMES or is_loopback_address(name)


def is_own_host_header(host_header: str | None) -> bool:
    """Whether a `Host` header can only be this server: an IP address, `localhost`,
    or this machine's own name (`name`, `name.local`).

    Any other name could be a domain its owner rebinds to this machine's
    address (DNS rebinding), so a page of theirs could read our answers.
    """
    if host_header is None:
        return True
    name = host_name_of(host_header).rstrip(".")
    if name in LOOPBACK_NAMES or name in _own_names():
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


_OWN_NAMES: frozenset[str] | None = None


def _own_names() -> frozenset[str]:
    """This machine's host name and its mDNS form (no DNS lookup: it could hang)."""
    global _OWN_NAMES  # noqa: PLW0603 - computed once, never changes meaningfully
    if _OWN_NAMES is None:
        full = socket.gethostname().lower().rstrip(".")
        short = full.split(".", 1)[0]
        _OWN_NAMES = frozenset(name for name in (full, short, f"{short}.local") if name)
    return _OWN_NAMES
