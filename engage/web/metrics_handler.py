"""/metrics of the web process, for Prometheus: the same registry the workers expose.

Not public: the figures tell an outsider the traffic, the providers and the queues. Prometheus
scrapes it with ``Authorization: Bearer $ENGAGE_METRICS_TOKEN`` (its scrape config's
``authorization: {credentials: ...}``); a signed-in admin may look at it in the browser. Without
ENGAGE_METRICS_TOKEN only admins can. (The workers serve theirs on ENGAGE_METRICS_PORT, a port for
the monitoring network only.)"""

from __future__ import annotations

import hmac

import tornado.ioloop
import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from engage import config
from engage.engine import metrics
from engage.web.api_auth import bearer
from engage.web.sessions_web import SignedInHandler


class MetricsHandler(SignedInHandler):
    async def get(self) -> None:
        refused = self._refused()
        if refused is not None:
            status, message = refused
            if status == 401:
                self.set_header("WWW-Authenticate", 'Bearer realm="engage metrics"')
            self.set_status(status)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(message + "\n")
            return
        broker_url = self.application.settings.get("broker_url") or config.load().broker_url
        metrics.watch(self.application.settings["db"], broker_url)
        # collecting reads the database and the broker: off the IOLoop, so pages stay responsive
        body = await tornado.ioloop.IOLoop.current().run_in_executor(None, generate_latest, REGISTRY)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.write(body)

    def _refused(self) -> tuple[int, str] | None:
        expected = self.settings.get("metrics_token")
        presented = bearer(self.request.headers.get("Authorization"))
        if presented is not None:
            if expected and hmac.compare_digest(presented.encode(), expected.encode()):
                return None
            return 401, "/metrics: this bearer token is not ENGAGE_METRICS_TOKEN"
        user = self.current_user
        if user is None:
            return 401, "/metrics: send Authorization: Bearer $ENGAGE_METRICS_TOKEN, or sign in as an admin"
        if user.role != "admin":
            return 403, f"/metrics: not open to the {user.role} role"
        return None
