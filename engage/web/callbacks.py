"""Delivery callbacks from HTTP providers: /callbacks/kannel/<provider id> (Kannel's dlr-url,
GET or POST) and /callbacks/http/<provider id> (a JSON body, for the http_json kind).

Machines call these, not people: they authenticate with the provider's callback token (query
argument ``token`` or header X-Callback-Token), not a login session or an XSRF cookie, and a
200 means the receipts are committed. 403 is a bad token, 400 a malformed callback (with a
message naming the field), 503 a store that failed: the gateway should retry.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import tornado.web
from sqlalchemy import Engine
from tornado.ioloop import IOLoop

from engage.engine.receipts.callbacks import (
    CallbackProvider,
    MalformedCallback,
    ProviderDirectory,
    ReceiptWriter,
    json_receipts,
    kannel_receipts,
    token_ok,
)


class _Callback(tornado.web.RequestHandler):
    kind: ClassVar[str]

    def initialize(self, directory: ProviderDirectory, writer: ReceiptWriter) -> None:
        self.directory = directory
        self.writer = writer

    def check_xsrf_cookie(self) -> None:
        """Gateways cannot hold an XSRF cookie; the callback token authenticates them instead."""

    def _request_summary(self) -> str:
        # Tornado's access log would print the query string, and with it the callback token.
        return f"{self.request.method} {self.request.path} ({self.request.remote_ip})"

    def receipts(self, provider: CallbackProvider) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def _receive(self, provider_id: str) -> None:
        pid = int(provider_id)
        provider = self.directory.cached(pid)
        if provider is None:
            provider = await IOLoop.current().run_in_executor(None, self.directory.load, pid)
        token = self.get_query_argument("token", None) or self.request.headers.get("X-Callback-Token")
        if provider is None or provider.kind != self.kind or not token_ok(provider.config, token):
            self._answer(403, {"error": f"callback refused: no {self.kind} provider {pid} with this token"})
            return
        try:
            items = self.receipts(provider)
        except MalformedCallback as exc:
            self._answer(400, {"error": f"malformed {self.kind} callback: {exc}"})
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


class KannelCallback(_Callback):
    kind = "kannel"

    def receipts(self, provider: CallbackProvider) -> list[dict[str, Any]]:
        args = {name: self.get_argument(name, "") for name in ("id", "status", "ts", "smsc_reply")}
        return kannel_receipts(args)

    async def get(self, provider_id: str) -> None:
        await self._receive(provider_id)

    async def post(self, provider_id: str) -> None:
        await self._receive(provider_id)


class JsonCallback(_Callback):
    kind = "http_json"

    def receipts(self, provider: CallbackProvider) -> list[dict[str, Any]]:
        mapping = provider.config.get("callback")
        if not isinstance(mapping, dict):
            raise MalformedCallback(f"provider {provider.id} has no callback mapping in its config")
        return json_receipts(mapping, self.request.body)

    async def post(self, provider_id: str) -> None:
        await self._receive(provider_id)


def callback_routes(engine: Engine) -> list[tuple[str, type, dict[str, Any]]]:
    """The routes for make_app; one provider cache and one receipt writer per application."""
    deps = {"directory": ProviderDirectory(engine), "writer": ReceiptWriter(engine)}
    return [(r"/callbacks/kannel/(\d+)", KannelCallback, deps), (r"/callbacks/http/(\d+)", JsonCallback, deps)]
