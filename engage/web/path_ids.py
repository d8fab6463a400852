"""Ids in paths (/campaigns/(\\d+), /api/v1/segments/(\\d+), ...) are checked once, when the route is
matched: a number no id column can hold (beyond 64 bits: 99999999999999999999) matches no route and
is a 404, instead of an overflow in whatever query the handler runs. Handlers can int() what they
are given. Unknown paths get a 404 in the form the caller reads: JSON under /api/, a page elsewhere."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import tornado.httputil
import tornado.routing
import tornado.web

from engage.web.sessions_web import PageHandler

MAX_ID = 2**63 - 1


def is_id(text: str | bytes) -> bool:
    """Whether ``text`` (digits, as a route captured them) is a whole number an id column can hold."""
    return text.isdigit() and len(text) <= 19 and int(text) <= MAX_ID


class IdPathMatches(tornado.routing.PathMatches):
    """A route's path pattern, matching only when every all-digits group is a possible id."""

    def match(self, request: tornado.httputil.HTTPServerRequest) -> dict[str, Any] | None:
        found = super().match(request)
        if found is None:
            return None
        groups = [*found.get("path_args", []), *found.get("path_kwargs", {}).values()]
        if any(isinstance(g, (str, bytes)) and g.isdigit() and not is_id(g) for g in groups):  # still bytes here
            return None
        return found


def checked(routes: Iterable[Any]) -> list[tornado.web.URLSpec]:
    """The app's (pattern, handler[, kwargs]) routes, each matching only possible ids."""
    rules = []
    for route in routes:
        rule = route if isinstance(route, tornado.web.URLSpec) else tornado.web.URLSpec(*route)
        rule.matcher = IdPathMatches(rule.matcher.regex)
        rules.append(rule)
    return rules


class NotFound(PageHandler):
    """The answer for a path no route matches."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, reason="no such page")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self.request.path.startswith("/api/"):
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish({"error": f"no such resource: {self.request.method} {self.request.path[:200]}"})
        else:
            super().write_error(status_code, **kwargs)

    def check_xsrf_cookie(self) -> None:
        """A POST to a path that does not exist is a 404, not an XSRF 403."""
