"""The Inbound page: what subscribers texted, newest first, found by number or by what the keywords
read it as (STOP, or the unknown word), each with what was done. Support answers subscribers and
admin runs the system; a branch user sees their branch's subscribers' messages only."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from engage import config
from engage.engine.keywords.inbox import InboxError, InboxQuery, search
from engage.engine.users.roles import INBOUND_READERS, NUMBER_READERS
from engage.engine.users.scope import Scope
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires


class InboundPage(PageHandler):
    @requires(*INBOUND_READERS)
    async def get(self) -> None:
        args = {name: self.get_query_argument(name, "").strip()[:64] for name in ("number", "keyword", "campaign")}
        before = self.get_query_argument("before", "")
        page: dict[str, Any] = {"messages": [], "next_before": None}
        error = None
        user = self.current_user
        try:
            if args["campaign"] and not args["campaign"].isdigit():
                raise InboxError(f"campaign: {args['campaign']!r} is not a campaign's number")
            query = InboxQuery(args["number"], args["keyword"], int(before) if before.isdigit() else None,
                               int(args["campaign"]) if args["campaign"] else None)
            page = await off_loop(self._search, query, Scope(branch=user.branch,
                                                              show_numbers=user.role in NUMBER_READERS))
        except InboxError as exc:
            error = str(exc)
            self.set_status(400)
        asked = {k: v for k, v in args.items() if v}
        next_url = (f"/inbound?{urlencode({**asked, 'before': page['next_before']})}"
                    if page["next_before"] is not None else None)
        self.render("inbound.html", args=args, page=page, error=error, next_url=next_url)

    def _search(self, query: InboxQuery, scope: Scope) -> dict[str, Any]:  # a database query: off the IO loop
        with self.db.connect() as conn:
            return search(conn, query, scope, config.load().default_region)


INBOUND_ROUTES = [(r"/inbound", InboundPage)]
