"""Addresses in one place: loopback, all interfaces, and which hosts stay on this machine.

Standard library only, so the API, the composition root and the UI all import
it without pulling anything else.
"""

from __future__ import annotations

import ipaddress

LOOPBACK = "127.0.0.1"
# Sharing on the LAN binds all interfaces: the user's choice, guarded by the room key.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104  # nosec B104
WILDCARD_HOSTS = frozenset({"", ALL_INTERFACES, "::"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback_address(host: str | None) -> bool:
    """Whether an address is this machine (127.0.0.0/8, ::1, IPv4-mapped)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_loopback_name(name: str) -> bool:
    """Whether a host name or address names this machine (`localhost`, 127.0.0.1, ::1)."""
    return name.strip().lower() in LOOPBACK_NAMES or is_loopback_address(name.strip())
