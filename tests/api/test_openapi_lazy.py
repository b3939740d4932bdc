"""The OpenAPI document is built on the first request of /schema, not at start.

Building it (with `_document_answers`) took 0.05-0.15 s and ~0.3 MB before the
server could answer its first click (benchmarks/README.md); it is still the
same completed document when asked for.
"""

from __future__ import annotations

from typing import Any, cast

from litestar._openapi.plugin import OpenAPIPlugin
from litestar.testing import TestClient

from mudameter_desktop.api.gate import ASGIApp


def openapi_plugin(app: ASGIApp) -> OpenAPIPlugin:
    litestar = cast(Any, app)._app  # the Litestar app behind the gate
    plugin: OpenAPIPlugin = litestar.plugins.get(OpenAPIPlugin)
    return plugin


def test_the_document_is_built_on_its_first_request(
    app: ASGIApp, local: TestClient[ASGIApp]
) -> None:
    assert openapi_plugin(app)._openapi is None  # create_app built nothing
    assert local.get("/health").status_code == 200
    assert openapi_plugin(app)._openapi is None  # nor did serving another path

    document = local.get("/schema/openapi.json").json()

    assert openapi_plugin(app)._openapi is not None
    schemas = document["components"]["schemas"]
    assert schemas["StatusRequest"]["additionalProperties"] is False  # _document_answers ran
    responses = document["paths"]["/users/status"]["post"]["responses"]
    assert {"401", "403", "421", "429"} <= set(responses)
