"""The participant page's files, read once from the package's resources."""

from __future__ import annotations

from importlib import resources

from litestar import Response
from litestar.exceptions import NotFoundException

# Litestar adds "; charset=utf-8" to text types itself (naming it here doubled it).
WEB_FILES = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "join.js": "text/javascript",
    "style.css": "text/css",
}
# Everything the page needs comes from this server; no inline script runs; no
# other site may frame it. The gate adds these to every answer (errors included).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
PAGE_HEADERS = {"Cache-Control": "no-cache", **SECURITY_HEADERS}


class WebAssets:
    """A fixed set of files in memory: a name outside the set is a 404."""

    def __init__(self) -> None:
        folder = resources.files("mudameter_desktop.resources") / "web"
        self._files = {name: (folder / name).read_bytes() for name in WEB_FILES}

    def response(self, name: str) -> Response[bytes]:
        if name not in self._files:
            raise NotFoundException(f"no file {name!r}")
        return Response(self._files[name], media_type=WEB_FILES[name], headers=PAGE_HEADERS)
