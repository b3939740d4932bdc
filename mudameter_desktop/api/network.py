"""Sharing on the chosen network only, and not after the laptop has left it.

"Share on LAN" binds the server to this machine's address on the network it
is on now (the one its default route uses), not to every interface (VPNs,
containers, a second network card); all interfaces only when asked for
(`--host 0.0.0.0`). When that address goes away (the laptop woke up in a
café), sharing stops and the user is told: it never follows the laptop to
another network by itself.

Standard library only: the UI imports it before the server stack loads.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Protocol

from mudameter_desktop.hosts import ALL_INTERFACES, LOOPBACK, WILDCARD_HOSTS, is_loopback_address

_PROBE_ADDRESS = ("192.0.2.1", 9)  # TEST-NET-1: a UDP connect() to it sends nothing


class SharedServer(Protocol):
    @property
    def host(self) -> str: ...

    def rebind(self, host: str) -> None: ...


def network_address() -> str | None:
    """This machine's address on the network its default route uses, or None offline."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_PROBE_ADDRESS)
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if is_loopback_address(address) or address in WILDCARD_HOSTS else address


def share_host(all_interfaces: bool = False) -> str:
    """The address "Share on LAN" binds: the current network's (loopback when offline),
    or every interface when asked for."""
    if all_interfaces:
        return ALL_INTERFACES
    return network_address() or LOOPBACK


def address_present(host: str) -> bool:
    """Whether this machine still has `host` (a wildcard or loopback always is)."""
    if host in WILDCARD_HOSTS or is_loopback_address(host):
        return True
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return True  # a name: nothing to compare
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, 0))  # binds only to an address of this machine; sends nothing
        except OSError:
            return False
    return True


def stop_if_network_left(server: SharedServer) -> str | None:
    """Stop sharing when the server's address has left this machine.

    Rebinds the server to loopback (this machine keeps working) and returns
    the message for the user; None while the address is still here.
    """
    host = server.host
    if address_present(host):
        return None
    server.rebind(LOOPBACK)
    return (
        f"This computer is no longer on the network of {host}, so Muda Meter stopped "
        "sharing on the LAN. Turn on Share on LAN again to share on the network it is on now."
    )
