"""The Litestar app behind the gate: routes, error shapes, OpenAPI document."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

import sqlalchemy.exc
from litestar import Litestar, Request, Response, route
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.di import Provide
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
)

from mudameter_desktop import APP_NAME, __version__
from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.events import EventHub
from mudameter_desktop.api.gate import ASGIApp, Caller, Gate, caller_of
from mudameter_desktop.api.limits import RateLimiter
from mudameter_desktop.api.rooms import RoomRegistry, room_routers, room_service
from mudameter_desktop.api.routes import ROOM_ROUTES, health
from mudameter_desktop.api.schemas import (
    MeetingRequest,
    RenameRequest,
    StatusRequest,
    VisitRequest,
)
from mudameter_desktop.api.web import WebAssets
from mudameter_desktop.services.errors import (
    InvalidInputError,
    NotFoundError,
    TooManyParticipantsError,
)
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.services.rooms import RoomDirectory

log = logging.getLogger(__name__)

# Answers the gate and the handlers can give besides the declared ones.
GATE_ERRORS = {
    "401": "No room key (LAN clients)",
    "403": "Wrong room key (LAN clients), a cross-site request, or a host-only action",
    "413": "Request body over 16 KiB",
    "415": "Request body is not application/json",
    "421": "A host name that is not this server's (key not required)",
    "429": (
        "Too many requests, wrong keys or participants from one address (LAN clients); "
        "see Retry-After"
    ),
}
# unknown fields are a 400
STRICT_BODIES = (MeetingRequest, StatusRequest, VisitRequest, RenameRequest)
OPTIONAL_BODIES = frozenset({"createMeeting", "visit"})  # no body = the defaults
ROOM_OPERATION = "room"  # operation ids at `/rooms/{slug}/…`: "roomListMeetings", …
STRING, INTEGER, NULL = OpenAPIType.STRING, OpenAPIType.INTEGER, OpenAPIType.NULL


def create_app(
    service: MeterService,
    access: RoomAccess,
    limiter: RateLimiter | None = None,
    *,
    trust_loopback: bool = True,
    events: EventHub | None = None,
) -> ASGIApp:
    """The whole HTTP app: the gate (rooms, keys, limits) in front of Litestar.

    `service` and `access` are the room `default`'s (the desktop's one room);
    other rooms' services are made on first use (`RoomRegistry`).
    `trust_loopback`: this machine's own user is the host (the desktop app);
    a team server passes False, so that only a room's host token makes a host.
    """
    assets = WebAssets()
    engine = service.engine  # the rooms' services share the default room's database
    rooms = RoomRegistry(service, access, RoomDirectory(engine), engine)
    event_hub = events or EventHub(engine)
    app = Litestar(
        # Explicit OPTIONS first: Litestar's own one lists only the first
        # handler's methods when two handlers share a path.
        route_handlers=[
            *_options_handlers([health]),
            health,
            *room_routers(ROOM_ROUTES, _options_handlers(ROOM_ROUTES), ROOM_OPERATION),
        ],
        dependencies={
            "service": Provide(room_service(service), sync_to_thread=False),
            "assets": Provide(lambda: assets, use_cache=True, sync_to_thread=False),
            "caller": Provide(_caller, sync_to_thread=False),
            "event_hub": Provide(lambda: event_hub, use_cache=True, sync_to_thread=False),
        },
        on_shutdown=[event_hub.close],
        exception_handlers={
            NotFoundError: _error_handler(404),
            InvalidInputError: _error_handler(400),
            TooManyParticipantsError: _error_handler(429),
            **dict.fromkeys(DATABASE_UNAVAILABLE, _database_unavailable),
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
    # The document is built on the first request of /schema (0.05-0.15 s and ~0.3 MB
    # that the start would otherwise spend before the server answers).
    app.plugins.get(OpenAPIPlugin).__class__ = DocumentedOpenAPIPlugin
    return Gate(cast(ASGIApp, app), rooms, limiter, trust_loopback=trust_loopback)


class DocumentedOpenAPIPlugin(OpenAPIPlugin):
    """Litestar's OpenAPI plugin, its document completed by `_document_answers` when built."""

    __slots__ = ()

    def _build_openapi(self) -> OpenAPI:
        document = super()._build_openapi()
        _document_answers(document)
        return document


def _options_handlers(handlers: Sequence[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """One OPTIONS handler per path, whose `Allow` names every method served there."""
    methods: dict[str, set[str]] = {}
    for handler in handlers:
        for path in handler.paths:
            methods.setdefault(path, {"OPTIONS"}).update(handler.http_methods)
    return [_options_handler(path, ", ".join(sorted(allowed))) for path, allowed in methods.items()]


def _options_handler(path: str, allow: str) -> HTTPRouteHandler:
    def options() -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": allow})

    return route(
        path,
        http_method=[HttpMethod.OPTIONS],
        include_in_schema=False,
        sync_to_thread=False,
        name=f"options:{path}",
    )(options)


def _document_answers(openapi: OpenAPI) -> None:
    """Make the OpenAPI document say what the app really does, where Litestar cannot.

    Unknown body fields are refused, optional bodies are optional, the gate's
    refusals and a detected meeting that already existed (200) are declared.
    """
    schemas = openapi.components.schemas or {}
    for struct in STRICT_BODIES:
        body = schemas.get(struct.__name__)
        if body is not None and struct.__struct_config__.forbid_unknown_fields:
            body.additional_properties = False
    meeting = schemas.get(MeetingRequest.__name__)
    if meeting is not None:  # the rules of MeetingRequest.__post_init__ and parse_time
        text, number, null = (Schema(type=kind) for kind in (STRING, INTEGER, NULL))
        for name in ("at", "starts_at"):
            time = Schema(type=STRING, format=OpenAPIFormat.DATE_TIME, max_length=64)
            (meeting.properties or {})[name] = Schema(
                one_of=[time, null], description="RFC 3339 time with an offset, year up to 9998"
            )
        meeting.schema_not = Schema(
            any_of=[  # not both times; no duration without a start
                Schema(required=["at", "starts_at"], properties={"at": text, "starts_at": text}),
                Schema(
                    required=["duration_minutes"],
                    properties={"duration_minutes": number, "starts_at": null},
                ),
            ]
        )
    for path, item in (openapi.paths or {}).items():
        for operation in (item.get, item.post, item.patch, item.delete):
            if operation is not None:
                _document_operation(path, operation)


def _document_operation(path: str, operation: Operation) -> None:
    responses = operation.responses or {}
    error = responses.get("400")
    name = operation.operation_id or ""
    if name.startswith(ROOM_OPERATION):  # the same operation in a room: "roomVisit" is "visit"
        name = name[len(ROOM_OPERATION) :][:1].lower() + name[len(ROOM_OPERATION) + 1 :]
    if operation.request_body is not None and name in OPTIONAL_BODIES:
        operation.request_body = replace(cast(Any, operation.request_body), required=False)
    if name == "createMeeting" and "201" in responses:
        responses.setdefault("200", replace(responses["201"], description="The meeting existed"))
    if not isinstance(error, OpenAPIResponse):
        error = _ERROR_RESPONSE  # an operation without parameters: no 400 to copy
    if "{" in path:
        responses.setdefault("404", replace(error, description="No such room or meeting"))
    if path != "/health":
        for status, description in GATE_ERRORS.items():
            responses.setdefault(status, replace(error, description=description))


_ERROR_RESPONSE = OpenAPIResponse(
    description="Error",
    content={
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["status_code", "detail"],
                properties={
                    "status_code": Schema(type=OpenAPIType.INTEGER),
                    "detail": Schema(type=OpenAPIType.STRING),
                },
            )
        )
    },
)


def _caller(request: Request[Any, Any, Any]) -> Caller:
    """Who is asking, as the gate decided (the host, or a LAN client and its address)."""
    return caller_of(request.scope)  # type: ignore[arg-type]


def _error_handler(status: int) -> Any:
    def handle(_request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
        return Response({"status_code": status, "detail": str(error)}, status_code=status)

    return handle


# The database cannot answer now (a restart, a lost connection, a full pool, a
# lock held too long): the request changed nothing, so the client may retry.
DATABASE_UNAVAILABLE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,
)


def _database_unavailable(
    request: Request[Any, Any, Any], error: Exception
) -> Response[dict[str, Any]]:
    log.warning("Database unavailable answering %s %s: %s", request.method, request.url.path, error)
    return Response(
        {"status_code": 503, "detail": "The database is unavailable, try again"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def _internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    """A real server bug: log it, answer without any detail."""
    log.error("Error answering %s %s", request.method, request.url.path, exc_info=error)
    return Response({"status_code": 500, "detail": "Internal server error"}, status_code=500)
