"""USSD hops from aggregators: POST /ussd/<gateway name>, one handler for every HTTP gateway kind
(Africa's Talking, Hubtel); the gateway's kind reads its request and writes its answer
(engage.engine.ussd.gateways), the engine takes the step on a thread of the USSD pool, never on
the IO loop.

Machines call this, not people: the gateway's token (query argument ``token``, or header
X-Gateway-Token) authenticates them, compared in constant time with the hash engage keeps; there
is no session and no XSRF cookie. 403 is an unknown gateway, an SMPP one or a wrong token (one
answer for all three, so names cannot be probed); 400 a request that cannot be read, naming the
field; 503 a store that failed (the aggregator ends the session). The access log never shows
the token.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tornado.web
from sqlalchemy import Engine

from engage.engine.ussd.gateways import KINDS, GatewayReply, GatewayRequest
from engage.engine.ussd.gateways.records import GatewayDirectory, token_ok
from engage.engine.ussd.gateways.serving import serve_hop

log = logging.getLogger(__name__)

# A pool of their own keeps hops from queueing behind page renders (and pages behind a storm of
# hops). Each thread holds at most one connection. Four, not more: a hop is a few milliseconds of
# database round trips, and more threads only contend for the GIL between them, which lengthens the
# tail (engage bench ussd on 2 cores: mean p99 29 ms over 7 runs with 4 threads, 38.5 ms over the 4
# runs with 8 between them). A menu whose call_http services are slow holds a thread for up to
# their timeout: raise it for those.
THREADS = int(os.environ.get("ENGAGE_USSD_THREADS", "4"))
_POOL = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="engage-ussd")


class UssdGatewayHandler(tornado.web.RequestHandler):
    def initialize(self, engine: Engine, directory: GatewayDirectory) -> None:
        self.engine = engine
        self.directory = directory

    def check_xsrf_cookie(self) -> None:
        """Aggregators hold no XSRF cookie; the gateway's token authenticates them instead."""

    def _request_summary(self) -> str:
        # Tornado's access log would print the query string, and with it the token.
        return f"{self.request.method} {self.request.path} ({self.request.remote_ip})"

    async def post(self, name: str) -> None:
        loop = asyncio.get_running_loop()
        gateway = self.directory.cached(name)
        if gateway is None:
            gateway = await loop.run_in_executor(_POOL, self.directory.load, name)
        token = self.get_query_argument("token", None) or self.request.headers.get("X-Gateway-Token")
        kind = KINDS.get(gateway.kind) if gateway is not None else None  # the terminal's has no kind here
        if gateway is None or kind is None or not kind.http or not token_ok(gateway, token):
            self._reply(GatewayReply(403, "application/json; charset=UTF-8",
                                     b'{"error": "no USSD gateway by this name takes this token"}'))
            return
        request = GatewayRequest({a: self.get_argument(a, strip=False) for a in self.request.arguments
                                  if a != "token"}, self.request.headers, self.request.body)
        try:
            reply = await loop.run_in_executor(_POOL, functools.partial(serve_hop, self.engine, gateway, request))
        except Exception:
            log.exception("USSD gateway %s: hop failed", gateway.name)
            reply = kind.refusal(503, "the hop could not be served; try again")
        self._reply(reply)

    def _reply(self, reply: GatewayReply) -> None:
        self.set_status(reply.status)
        self.set_header("Content-Type", reply.content_type)
        self.set_header("Cache-Control", "no-store")
        self.finish(reply.body)


def ussd_gateway_routes(engine: Engine) -> list[tuple[str, type, dict[str, Any]]]:
    """The route for make_app; one gateway cache per application."""
    return [(r"/ussd/([A-Za-z0-9][A-Za-z0-9_.-]{0,99})", UssdGatewayHandler,
             {"engine": engine, "directory": GatewayDirectory(engine)})]
