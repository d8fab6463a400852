"""The OpenAPI 3 document of /api/v1, served at /api/v1/openapi.json. Written by hand, one entry per
operation; tests/test_openapi.py checks it against the application's real routes and handler
methods, so it cannot drift from what the server answers."""

from __future__ import annotations

from typing import Any

import tornado.web

from engage.web import (
    audience_api,
    campaigns_api,
    loyalty_api,
    loyalty_members_api,
    providers_api,
    subscribers_api,
    ussd_pages,
)

ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
JSON_BODY = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}

# path -> method -> (summary, takes a JSON body): each API module declares its own operations
OPERATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    **audience_api.OPERATIONS,
    **subscribers_api.OPERATIONS,
    **campaigns_api.OPERATIONS,
    **providers_api.OPERATIONS,
    **ussd_pages.OPERATIONS,
    **loyalty_api.OPERATIONS,
    **loyalty_members_api.OPERATIONS,
    "/api/v1/openapi.json": {"get": ("This document", False)},
}
# path -> method -> what an operation says beyond the common shape (the partner API: its own token,
# the Idempotency-Key header, its body and answers), put over it
DETAILS: dict[str, dict[str, dict[str, Any]]] = {**loyalty_api.DETAILS}


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, methods in OPERATIONS.items():
        item: dict[str, Any] = {}
        for method, (summary, body) in methods.items():
            operation: dict[str, Any] = {
                "summary": summary,
                "responses": {"200": {"description": "OK", "content": {"application/json": {}}},
                              "400": {"description": "Bad input; {\"error\": what and where}"},
                              "401": {"description": "No valid token or session"},
                              "403": {"description": "The role may not"}}}
            if "{id}" in path:
                operation["parameters"] = [ID]
            if body:
                operation["requestBody"] = JSON_BODY
            operation.update(DETAILS.get(path, {}).get(method, {}))
            item[method] = operation
        paths[path] = item
    return {"openapi": "3.0.3",
            "info": {"title": "engage API", "version": "1",
                     "description": "Bearer token (ENGAGE_API_TOKENS) or a signed-in session with X-XSRFToken."},
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "partner": {"type": "http", "scheme": "bearer",
                            "description": "A loyalty partner's token (engage loyalty partner add): only "
                                           "/api/v1/loyalty/* takes it"}}},
            "security": [{"bearer": []}], "paths": paths}


class OpenApiDocument(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write(document())


OPENAPI_ROUTES = [(r"/api/v1/openapi.json", OpenApiDocument)]
