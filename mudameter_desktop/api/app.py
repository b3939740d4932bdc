"""The Litestar app behind the gate: routes, error shapes, OpenAPI document."""

from __future__ import annotations

import logging
from typing import Any, cast

from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from mudameter_desktop import APP_NAME, __version__
from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.gate import ASGIApp, Gate
from mudameter_desktop.api.limits import RateLimiter
from mudameter_desktop.api.routes import ROUTES
from mudameter_desktop.api.web import WebAssets
from mudameter_desktop.services import InvalidInputError, MeterService, NotFoundError

log = logging.getLogger(__name__)


def create_app(
    service: MeterService, access: RoomAccess, limiter: RateLimiter | None = None
) -> ASGIApp:
    """The whole HTTP app: the gate (LAN rules, limits) in front of Litestar."""
    assets = WebAssets()
    app = Litestar(
        route_handlers=ROUTES,
        dependencies={
            "service": Provide(lambda: service, use_cache=True, sync_to_thread=False),
            "assets": Provide(lambda: assets, use_cache=True, sync_to_thread=False),
        },
        exception_handlers={
            NotFoundError: _error_handler(404),
            InvalidInputError: _error_handler(400),
            500: _internal_error,
        },
        openapi_config=OpenAPIConfig(
            title=APP_NAME,
            version=__version__,
            path="/schema",
            render_plugins=[JsonRenderPlugin()],  # no UI page that loads JS from a CDN
        ),
        logging_config=None,  # the app's logging is set up once, in mudameter_desktop.logs
        debug=False,
    )
    return Gate(cast(ASGIApp, app), access, limiter)


def _error_handler(status: int) -> Any:
    def handle(_request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
        return Response({"status_code": status, "detail": str(error)}, status_code=status)

    return handle


def _internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    """A real server bug: log it, answer without any detail."""
    log.error("Error answering %s %s", request.method, request.url.path, exc_info=error)
    return Response({"status_code": 500, "detail": "Internal server error"}, status_code=500)
