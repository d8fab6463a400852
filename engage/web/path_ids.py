"""Ids in paths (/campaigns/(\\d+), /api/v1/segments/(\\d+), ...) are checked once, when the route is
matched: a number the id column cannot hold matches no route and is a 404, instead of an overflow in
whatever query the handler runs. Subscribers' ids are 64-bit (BigId); every other table's are
PostgreSQL integers, 32-bit: 2147483648 is no campaign's id. Handlers can int() what they
are given. Unknown paths get a 404 in the form the caller reads: JSON under /api/, a page elsewhere."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import tornado.httputil
import tornado.routing
import tornado.web

from engage.engine.store.id_ranges import MAX_BIG_ID, MAX_ID
from engage.web.sessions_web import PageHandler

BIG_ID_PATHS = ("/subscribers/", "/api/v1/subscribers/")  # /subscribers/import/N is a job: not these


def is_id(text: str | bytes, limit: int = MAX_BIG_ID) -> bool:
    """Whether ``text`` (digits, as a route captured them) is a whole number an id column can hold."""
    return text.isdigit() and len(text) <= 19 and int(text) <= limit


class IdPathMatches(tornado.routing.PathMatches):
    """A route's path pattern, matching only when every all-digits group is a possible id."""

    def __init__(self, path_pattern: Any) -> None:
        super().__init__(path_pattern)
        pattern = self.regex.pattern
        big = pattern.startswith(BIG_ID_PATHS) and "/import/" not in pattern
        self.limit = MAX_BIG_ID if big else MAX_ID

    def match(self, request: tornado.httputil.HTTPServerRequest) -> dict[str, Any] | None:
        found = super().match(request)
        if found is None:
            return None
        groups = [*found.get("path_args", []), *found.get("path_kwargs", {}).values()]
        if any(isinstance(g, (str, bytes)) and g.isdigit() and not is_id(g, self.limit) for g in groups):
            return None  # (still bytes here)
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
