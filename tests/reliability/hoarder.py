"""Run inside the test's network namespace: many LAN machines holding the server's connections.

Usage: python hoarder.py HOST PORT SOURCES PER_SOURCE SECONDS. Opens PER_SOURCE
connections from each source address (bound before connecting), starts a
request head on each and drips one byte a second, for SECONDS at most.
Prints "open N" once all were tried (N: connections the server accepted),
then exits when time is up. Bounded: at most SOURCES x PER_SOURCE sockets.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time


def main(host: str, port: int, sources: list[str], per_source: int, seconds: float) -> None:
    held: list[socket.socket] = []
    for source in sources:
        for _ in range(per_source):
            connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            connection.settimeout(2.0)
            try:
                connection.bind((source, 0))
                connection.connect((host, port))
                connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                connection.close()
                continue
            held.append(connection)
    print(f"open {len(held)}", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(1.0)
        for connection in held:
            with contextlib.suppress(OSError):
                connection.send(b"X")
    for connection in held:
        connection.close()


if __name__ == "__main__":
    host, port, sources, per_source, seconds = sys.argv[1:6]
    main(host, int(port), sources.split(","), int(per_source), float(seconds))
