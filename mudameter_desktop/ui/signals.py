"""Emitting Qt signals from Python safely with every supported PySide6 and Python.

PySide6 6.12.0's `SignalInstance.emit()` returns `True` without a new
reference. Python 3.12 made `True` immortal, so it does no harm there; on
Python 3.11 every emit takes one reference off `True` until the interpreter
aborts with "bool_dealloc" (after some thousand emits: an hour of LAN clicks).
`emit` checks once whether the running PySide6 has the bug and, if so, gives
the reference back.

The same PySide6 on Python 3.11 also takes a reference off `None` at every
call of a method that returns nothing (`setText`, `setChecked`,
`processEvents`…): a few thousand such calls (some hundred clicks, or
minutes of LAN clicks refreshing the tray) and the interpreter aborts with
"none_dealloc". They are far too many to wrap, so `keep_none_alive` gives
`None` a huge reference headroom once, which is what Python 3.12 does by
making it immortal.
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


NONE_HEADROOM = 1 << 40  # years of leaked references at a thousand a second
_PROBE_CALLS = 64


def void_calls_drop_none() -> bool:
    """Whether PySide6 methods returning nothing take a reference off `None`."""
    if sys.version_info >= (3, 12):
        return False
    probe = _Probe()
    before = sys.getrefcount(None)
    for _ in range(_PROBE_CALLS):
        probe.setObjectName("probe")
    return before - sys.getrefcount(None) >= _PROBE_CALLS // 2


@cache
def keep_none_alive() -> bool:
    """Make `None` outlive PySide6's leak (once per process); True if it was needed."""
    if not void_calls_drop_none():
        return False
    refcount = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt: PyObject's first field
    refcount.value += NONE_HEADROOM
    return True


keep_none_alive()  # at import: every module that touches Qt widgets imports this one


def emit(signal: SignalInstance, *args: object) -> None:
    """`signal.emit(*args)`, without PySide6 6.12's reference leak on `True`."""
    emitter: Callable[..., object] = signal.emit
    result = emitter(*args)
    if emit_drops_a_reference() and isinstance(result, bool):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))
