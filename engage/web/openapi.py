"""The OpenAPI 3 document of /api/v1, served at /api/v1/openapi.json. Written by hand, one entry per
operation; tests/test_openapi.py checks it against the application's real routes and handler
methods, so it cannot drift from what the server answers."""

from __future__ import annotations

from typing import Any

import tornado.web

ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
JSON_BODY = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
ACTIONS = ("submit", "approve", "reject", "launch", "pause", "resume", "cancel")

# path -> method -> (summary, takes a JSON body)
OPERATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "/api/v1/subscribers": {"post": ("Upsert a batch of subscribers; each bad record reported by index", True)},
    "/api/v1/segments": {"get": ("Segments visible to the caller", False),
                         "post": ("Save a segment (name, definition) and count it", True)},
    "/api/v1/segments/count": {"post": ("Count a definition: matching, opted out, reachable, sample", True)},
    "/api/v1/segments/kinds": {"get": ("Criterion kinds with their parameters and each field's operators", False)},
    "/api/v1/templates": {"get": ("Templates with their languages and arms", False),
                          "post": ("Create a template (name, default_language, variants, arms)", True)},
    "/api/v1/templates/{id}": {"get": ("A template with its variants, each measured", False),
                               "put": ("Replace a template's variants (refused while a campaign runs it)", True)},
    "/api/v1/templates/preview": {"post": ("Render a body for a sample subscriber: text, encoding, parts, "
                                           "or the mistake's line and column", True)},
    "/api/v1/campaigns": {"get": ("The latest campaigns with their counts", False),
                          "post": ("Create a draft (name, segment_id, template_id, sender_id, options)", True)},
    "/api/v1/campaigns/{id}": {"get": ("A campaign: rules, runs, counts by status and arm, cost", False)},
    "/api/v1/campaigns/{id}/stats": {"get": ("Live figures: progress, messages over time, by provider "
                                             "and network", False)},
    **{f"/api/v1/campaigns/{{id}}/{action}": {"post": (f"{action.capitalize()} the campaign"
                                                       + (" (body: reason)" if action == "reject" else ""),
                                                       action == "reject")} for action in ACTIONS},
    "/api/v1/openapi.json": {"get": ("This document", False)},
}


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
            item[method] = operation
        paths[path] = item
    return {"openapi": "3.0.3",
            "info": {"title": "engage API", "version": "1",
                     "description": "Bearer token (ENGAGE_API_TOKENS) or a signed-in session with X-XSRFToken."},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}], "paths": paths}


class OpenApiDocument(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write(document())


OPENAPI_ROUTES = [(r"/api/v1/openapi.json", OpenApiDocument)]
