"""Callbacks from HTTP providers, one handler for every kind: delivery receipts at
/callbacks/<callback name>/<provider id>, subscribers' own messages (MOs) at
/callbacks/<callback name>/<provider id>/mo. The name picks the provider kind from the registry
(kannel for Kannel's dlr-url and sms-service get-url, http for the http_json kind's JSON); the kind
reads its own callbacks, so a new kind needs nothing here.

Machines call these, not people: they authenticate with the provider's callback token (query
argument ``token`` or header X-Callback-Token), not a login session or an XSRF cookie, and a
200 means the receipts or MOs are committed (MOs also handled by their keywords, STOP included).
404 is a name no kind takes such callbacks at, 405 a method the kind's gateways do not use, 403 a
bad token or a provider of another kind, 400 a malformed callback (with a message naming the field,
and the item of a list), 503 a store that failed: the gateway should retry.
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
    def initialize(self, directory: ProviderDirectory, writer: ReceiptWriter, inbound: bool = False) -> None:
        self.directory = directory
        self.writer = writer
        self.inbound = inbound  # the MO route: the kind's parse_inbound, not its receipts

    def check_xsrf_cookie(self) -> None:
        """Gateways cannot hold an XSRF cookie; the callback token authenticates them instead."""

    def _request_summary(self) -> str:
        # Tornado's access log would print the query string, and with it the callback token (and an MO's text).
        return f"{self.request.method} {self.request.path} ({self.request.remote_ip})"

    async def get(self, name: str, provider_id: str) -> None:
        await self._receive(name, int(provider_id))

    async def post(self, name: str, provider_id: str) -> None:
        await self._receive(name, int(provider_id))

    async def _receive(self, name: str, pid: int) -> None:
        kind = callback_kind(name)
        methods = (kind.inbound_methods if self.inbound else kind.callback_methods) if kind else frozenset()
        what = "MO callbacks" if self.inbound else "callbacks"
        if not methods:
            where = f"/callbacks/{name}/<provider id>/mo" if self.inbound else f"/callbacks/{name}/"
            self._answer(404, {"error": f"no provider kind takes {what} at {where}"})
            return
        if self.request.method not in methods:
            self.set_header("Allow", ", ".join(sorted(methods)))
            self._answer(405, {"error": f"{name} {what} come by {' or '.join(sorted(methods))}"})
            return
        provider = self.directory.cached(pid)
        if provider is None:
            provider = await IOLoop.current().run_in_executor(None, self.directory.load, pid)
        token = self.get_query_argument("token", None) or self.request.headers.get("X-Callback-Token")
        if provider is None or provider.kind != kind.kind or not token_ok(provider.config, token):
            self._answer(403, {"error": f"callback refused: no {kind.kind} provider {pid} with this token"})
            return
        request = CallbackRequest(self.request.method or "", self._arguments(), self.request.headers,
                                  self.request.body,
                                  {a: values[-1] for a, values in self.request.arguments.items() if values})
        try:
            if self.inbound:
                receipts, inbound = [], kind.parse_inbound(provider.config, request)
            else:
                receipts, inbound = kind.parse_callback(provider.config, request), []
        except MalformedCallback as exc:
            self._answer(400, {"error": f"malformed {kind.kind} {what[:-1]} for provider {pid}: {exc}"})
            return
        if receipts or inbound:
            try:
                await asyncio.wrap_future(self.writer.submit(pid, receipts, inbound))
            except Exception:
                self._answer(503, {"error": f"{'MOs' if self.inbound else 'receipts'} could not be stored; "
                                            "retry later"})
                return
        if self.inbound:
            content_type, body = kind.inbound_answer(len(inbound))
            self.set_header("Content-Type", content_type)
            self.finish(body)
            return
        self._answer(200, {"stored": len(receipts)})

    def _arguments(self) -> dict[str, str]:
        """Each argument's last value as text. An MO's text may be in a charset of the gateway's own
        (Kannel's UCS-2 as UTF-16BE), which the kind reads from the raw arguments: here it is not
        refused as bad UTF-8, only shown with U+FFFD where it is not UTF-8."""
        out = {}
        for name, values in self.request.arguments.items():
            try:
                out[name] = self.get_argument(name)
            except tornado.web.HTTPError:
                if not self.inbound:
                    raise
                out[name] = values[-1].decode("utf-8", "replace").strip()
        return out

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.write(body)


def callback_routes(engine: Engine) -> list[tuple[str, type, dict[str, Any]]]:
    """The routes for make_app; one provider cache and one writer per application, shared by both."""
    deps = {"directory": ProviderDirectory(engine), "writer": ReceiptWriter(engine)}
    return [(r"/callbacks/(\w+)/(\d+)", ProviderCallback, deps),
            (r"/callbacks/(\w+)/(\d+)/mo", ProviderCallback, {**deps, "inbound": True})]
