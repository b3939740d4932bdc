"""Emitting Qt signals from Python safely with every supported PySide6 and Python.

PySide6 6.12.0's `SignalInstance.emit()` returns `True` without a new
reference. Python 3.12 made `True` immortal, so it does no harm there; on
Python 3.11 every emit takes one reference off `True` until the interpreter
aborts with "bool_dealloc" (after some thousand emits: an hour of LAN clicks).
`emit` checks once whether the running PySide6 has the bug and, if so, gives
the reference back.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import cache

from PySide6.QtCore import QObject, Signal, SignalInstance


class _Probe(QObject):
    ping = Signal()


@cache
def emit_drops_a_reference() -> bool:
    if sys.version_info >= (3, 12):
        return False
    probe = _Probe()
    before = sys.getrefcount(True)
    probe.ping.emit()
    return sys.getrefcount(True) < before


def emit(signal: SignalInstance, *args: object) -> None:
    """`signal.emit(*args)`, without PySide6 6.12's reference leak on `True`."""
    emitter: Callable[..., object] = signal.emit
    result = emitter(*args)
    if emit_drops_a_reference() and isinstance(result, bool):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))
