"""PySide6's per-import scan for `__feature__` users, without keeping every module's source.

Once PySide6 is imported, its import hook asks of every module imported after
it whether the module "uses PySide6" (to know which modules may switch on a
`from __feature__ import snake_case`). It answers with `inspect.getsource()`,
which leaves each module's whole source, split into lines, in `linecache` for
the life of the process: with SQLAlchemy, Litestar and uvicorn imported after
the tray, some 700 files and ~20 MB of RSS that nothing ever reads again
(benchmarks/README.md, change 8).

`scan_without_caching_sources()` gives the hook the same answer (does the
file mention "PySide6"?) from one plain read of the file, so nothing stays
behind, and drops what PySide6 already cached of the modules imported before
it (the standard library's: ~2 MB). The app uses no `__feature__`, so the
answer only keeps PySide6's bookkeeping as it was. If PySide6 no longer has
the hook, nothing is changed.
"""

from __future__ import annotations

import linecache
import sys
from pathlib import Path
from types import ModuleType

FEATURE_MODULE = "shibokensupport.feature"  # PySide6's `__feature__` support, as loaded


def _mentions_pyside(module: ModuleType) -> bool | None:
    """Whether the module's source file names PySide6; None when it has no readable `.py`."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return None
    try:
        return b"PySide6" in Path(path).read_bytes()
    except OSError:
        return None


def scan_without_caching_sources() -> bool:
    """Replace PySide6's source scan by one that caches nothing; True if it was replaced."""
    feature = sys.modules.get(FEATURE_MODULE)
    scan = getattr(feature, "_mod_uses_pyside", None)
    if scan is None or getattr(scan, "__module__", None) == __name__:
        return False

    def _mod_uses_pyside(module: ModuleType) -> bool:
        mentions = _mentions_pyside(module)
        # No .py file (built-in, extension, frozen): PySide6's own answer, which reads nothing.
        return bool(scan(module)) if mentions is None else mentions

    setattr(feature, "_mod_uses_pyside", _mod_uses_pyside)  # noqa: B010 - a module's global
    linecache.clearcache()  # a cache: tracebacks read again what they need
    return True
