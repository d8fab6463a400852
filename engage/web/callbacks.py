"""Delivery callbacks from HTTP providers: /callbacks/<callback name>/<provider id>, one handler
for every kind. The name picks the provider kind from the registry (kannel for Kannel's dlr-url,
http for the http_json kind's JSON receipts); the kind reads its own callbacks, so a new kind
needs nothing here.

Machines call these, not people: they authenticate with the provider's callback token (query
argument ``token`` or header X-Callback-Token), not a login session or an XSRF cookie, and a
200 means the receipts are committed. 404 is a name no kind takes callbacks at, 405 a method
the kind's gateways do not use, 403 a bad token or a provider of another kind, 400 a malformed
callback (with a message naming the field), 503 a store that failed: the gateway should retry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import tornado.web
from sqlalchemy import Engine
from tornado.ioloop import IOLoop

from engage.engine.providers import CallbackRequest, MalformedCallback, callback_kind
from engage.engine.receipts.callbacks import ProviderDirectory, ReceiptWriter, token_ok


class ProviderCallback(tornado.web.RequestHandler):
    def initialize(self, directory: ProviderDirectory, writer: ReceiptWriter) -> None:
        self.directory = directory
        self.writer = writer

    def check_xsrf_cookie(self) -> None:
        """Gateways cannot hold an XSRF cookie; the callback token authenticates them instead."""

    def _request_summary(self) -> str:
        # Tornado's access log would print the query string, and with it the callback token.
        return f"{self.request.method} {self.request.path} ({self.request.remote_ip})"

    async def get(self, name: str, provider_id: str) -> None:
        await self._receive(name, int(provider_id))

    async def post(self, name: str, provider_id: str) -> None:
        await self._receive(name, int(provider_id))

    async def _receive(self, name: str, pid: int) -> None:
        kind = callback_kind(name)
        if kind is None:
            self._answer(404, {"error": f"no provider kind takes callbacks at /callbacks/{name}/"})
            return
        if self.request.method not in kind.callback_methods:
            self.set_header("Allow", ", ".join(sorted(kind.callback_methods)))
            self._answer(405, {"error": f"{name} callbacks come by {' or '.join(sorted(kind.callback_methods))}"})
            return
        provider = self.directory.cached(pid)
        if provider is None:
            provider = await IOLoop.current().run_in_executor(None, self.directory.load, pid)
        token = self.get_query_argument("token", None) or self.request.headers.get("X-Callback-Token")
        if provider is None or provider.kind != kind.kind or not token_ok(provider.config, token):
            self._answer(403, {"error": f"callback refused: no {kind.kind} provider {pid} with this token"})
            return
        request = CallbackRequest(self.request.method or "", {a: self.get_argument(a) for a in self.request.arguments},
                                  self.request.headers, self.request.body)
        try:
            items = kind.parse_callback(provider.config, request)
        except MalformedCallback as exc:
            self._answer(400, {"error": f"malformed {kind.kind} callback for provider {pid}: {exc}"})
            return
        if items:
            try:
                await asyncio.wrap_future(self.writer.submit(pid, items))
            except Exception:
                self._answer(503, {"error": "receipts could not be stored; retry later"})
                return
        self._answer(200, {"stored": len(items)})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.write(body)


def callback_routes(engine: Engine) -> list[tuple[str, type, dict[str, Any]]]:
    """The route for make_app; one provider cache and one receipt writer per application."""
    deps = {"directory": ProviderDirectory(engine), "writer": ReceiptWriter(engine)}
    return [(r"/callbacks/(\w+)/(\d+)", ProviderCallback, deps)]
