"""Serving the web app on Tornado's IOLoop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from sqlalchemy import Engine

from engage import config
from engage.engine.segments import live
from engage.web.app import make_app

log = logging.getLogger(__name__)


async def _serve(engine: Engine, host: str, port: int, stop: asyncio.Event | None = None, *,
                 announce: bool = False) -> None:
    app = make_app(engine)
    if live.wanted(engine, config.load().live_counts):
        live.enable(engine)  # loads in the background; counts go to the database until it is ready
    # behind a load balancer the client's address is in X-Forwarded-For (sign-in limits are per address)
    server = app.listen(port, address=host, xheaders=os.environ.get("ENGAGE_BEHIND_PROXY", "") == "1")
    log.info("web UI at http://%s:%d", host, port)
    if announce:  # only once listening: a port in use is an error, never an address that seemed to work
        print(f"engage web UI at http://{host}:{port}", flush=True)
    await (stop or asyncio.Event()).wait()
    server.stop()


def serve(engine: Engine, host: str, port: int) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(engine, host, port, announce=True))
