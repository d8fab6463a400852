"""/metrics of the web process, for Prometheus: the same registry the workers expose."""

from __future__ import annotations

import tornado.ioloop
import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from engage import config
from engage.engine import metrics


class MetricsHandler(tornado.web.RequestHandler):
    async def get(self) -> None:
        broker_url = self.application.settings.get("broker_url") or config.load().broker_url
        metrics.watch(self.application.settings["db"], broker_url)
        # collecting reads the database and the broker: off the IOLoop, so pages stay responsive
        body = await tornado.ioloop.IOLoop.current().run_in_executor(None, generate_latest, REGISTRY)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.write(body)
