"""`--headless --workers N`: N uvicorn worker processes on one listening socket.

uvicorn's own multi-process supervisor (`uvicorn.supervisors.Multiprocess`,
what `uvicorn.run(..., workers=N)` runs) starts the workers, restarts one that
dies, stops them all on SIGINT/SIGTERM, and replaces them one by one on SIGHUP.
The parent binds the socket first (the app's port rule and one-line errors),
then hands it to the workers. Each worker imports the app factory by name and
builds its own engine, service and app on the same database; what it needs
arrives in one environment variable (`WorkerSettings`), readable by this user
only, like the rest of the process's environment.

Every worker guards its connections like the desktop's server thread
(`runner.guarded_protocol`, with its own tally), and has its own rate limiter:
with N workers an address may get up to N times `--rate-limit` a minute.
"""

from __future__ import annotations

import functools
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mudameter_desktop.api.limits import RATE_LIMIT, ConnectionLimits, TrustedProxies

WORKER_ENVIRONMENT = "MUDAMETER_WORKER"
STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that cannot start: the parent stops
GRACEFUL_SHUTDOWN_S = 5  # open requests (an event stream) get this long after SIGTERM
PROTOCOL = f"{__name__}:GuardedProtocol"


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker needs to build the same app, passed through the environment."""

    workers: int
    database_url: str
    data_dir: str | None = None
    room_key: str | None = None
    calendar: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    rate_limit: int = RATE_LIMIT

    def to_environment(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> WorkerSettings:
        text = environment.get(WORKER_ENVIRONMENT)
        if not text:
            raise RuntimeError(f"{WORKER_ENVIRONMENT} is not set: not started by `--workers`")
        values: dict[str, Any] = json.loads(text)
        values["trusted_proxies"] = tuple(values.get("trusted_proxies", ()))
        return cls(**values)

    @property
    def proxies(self) -> TrustedProxies:
        return TrustedProxies.parse(self.trusted_proxies)


def connection_limits(settings: WorkerSettings) -> ConnectionLimits:
    return ConnectionLimits(proxies=settings.proxies)


def serve(app_factory: str, listener: socket.socket, settings: WorkerSettings) -> int:
    """Run `settings.workers` workers of `app_factory` ("module:function") on `listener`
    until SIGINT or SIGTERM; 0 then, 1 when a worker could not start."""
    import uvicorn  # noqa: PLC0415 - the server stack, loaded when serving
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    os.environ[WORKER_ENVIRONMENT] = settings.to_environment()  # spawned workers inherit it
    limits = connection_limits(settings)
    config = uvicorn.Config(
        app_factory,
        factory=True,
        workers=settings.workers,
        lifespan="off",  # the factory builds everything; the worker's exit closes it
        ws="none",
        log_config=None,  # each worker sets up the app's logging in the factory
        access_log=False,  # a join link's query holds the room key: never log it
        http=PROTOCOL,
        h11_max_incomplete_event_size=2 * limits.max_head_bytes,
        proxy_headers=False,  # X-Forwarded-For is read by the app, from --trusted-proxy only
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    listener.set_inheritable(True)
    supervisor = Multiprocess(config, sockets=[listener])
    try:
        supervisor.run()
    finally:
        listener.close()
    failed = any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)
    return 1 if failed else 0


@functools.cache
def _guarded_protocol() -> type[Any]:
    """This worker's protocol class: uvicorn's parser, guarded, with this process's tally."""
    from mudameter_desktop.api.runner import guarded_protocol  # noqa: PLC0415 - uvicorn

    return guarded_protocol(connection_limits(WorkerSettings.from_environment(os.environ)))


def __getattr__(name: str) -> Any:
    """`GuardedProtocol`, built on first use in each worker (uvicorn imports it by name)."""
    if name == "GuardedProtocol":
        return _guarded_protocol()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
