"""The OpenAPI document is true: every /api/v1 route the application serves, with each method its
handler implements, is in the document, and the document names nothing else."""

from __future__ import annotations

import itertools
import json
import re
import urllib.request

import tornado.web

from engage.web.app import make_app
from engage.web.openapi import document

METHODS = ("get", "post", "put", "patch", "delete")


def served(app: tornado.web.Application) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every /api/v1 route: (\\d+) becomes {id}, alternatives expand."""
    out = set()
    for rule in app.wildcard_router.rules:
        pattern = rule.matcher.regex.pattern.rstrip("$")
        if not pattern.startswith("/api/v1"):
            continue
        pattern = pattern.replace(r"(\d+)", "{id}")
        choices = [group.split("|") for group in re.findall(r"\(([a-z|]+)\)", pattern)]
        for picked in itertools.product(*choices) if choices else [()]:
            path = pattern
            for group, choice in zip(re.findall(r"\([a-z|]+\)", pattern), picked, strict=True):
                path = path.replace(group, choice, 1)
            path = path.replace("\\.", ".")
            handler = rule.target
            for method in METHODS:
                if getattr(handler, method) is not getattr(tornado.web.RequestHandler, method):
                    out.add((path, method))
    return out


def documented() -> set[tuple[str, str]]:
    return {(path, method) for path, item in document()["paths"].items() for method in item}


def test_every_served_api_operation_is_documented_and_nothing_else(engine):
    assert served(make_app(engine, secret="s")) == documented()


def test_the_document_is_served_as_json(site):
    _, base = site
    with urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=10) as response:
        body = json.loads(response.read())
    assert body["openapi"].startswith("3.") and "/api/v1/campaigns/{id}/approve" in body["paths"]
