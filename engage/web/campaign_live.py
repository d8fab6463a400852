"""A campaign's page, live: a websocket that pushes the campaign's figures every second (status,
counts, progress, cost, messages over time, by provider and by network, cost by provider, A/B arms
and the control group side by side) while it runs, and once more when it ends; the page draws its
charts from them. Signed-in users of the campaign's branch only; the figures are the engine's
(campaigns.records, campaigns.progress, campaigns.spend, campaigns.comparison), computed in the
database, a few rows per push."""

from __future__ import annotations

import asyncio
from typing import Any

import tornado.escape
import tornado.httputil
import tornado.websocket

from engage.engine import statuses as st
from engage.engine.campaigns import comparison, overview, progress, records, spend, summary
from engage.engine.users.roles import CAMPAIGN_READERS
from engage.web.off_loop import off_loop
from engage.web.sessions_web import SignedInHandler

PUSH_EVERY = 1.0  # s
SLOW_BACK_OFF = 10  # figures past their budget are tried again after this many pushes' time
FINAL_STATES = (*st.FINAL, st.CONTROL)


def figures(db: Any, campaign_id: int) -> dict[str, Any] | None:
    """Blocking, and bounded: overview.FiguresTooSlow past the figures' time budget."""
    with db.connect() as conn, overview.bounded(conn):
        out = summary(conn, campaign_id)
        if out is None:
            return None
        total = out["audience_size"] or 0
        done = sum(out["counts"].get(s, 0) for s in FINAL_STATES if s != st.CONTROL)
        out.update(done=done, total=total, timeline=progress.timeline(conn, campaign_id),
                   providers=progress.by_provider(conn, campaign_id), networks=progress.by_network(conn, campaign_id),
                   spend=spend.by_provider(conn, campaign_id), comparison=comparison.arms(conn, campaign_id))
    return out


class CampaignLive(SignedInHandler, tornado.websocket.WebSocketHandler):
    async def open(self, campaign_id: str) -> None:  # type: ignore[override]
        user = self.current_user
        cid = int(campaign_id)
        if user is None or user.role not in CAMPAIGN_READERS:
            self.close(4403, "not yours to watch")
            return
        with self.db.connect() as conn:
            yours = records.visible(conn, cid, user.branch)
        if not yours:
            self.close(4403, "not yours to watch")
            return
        self._task = asyncio.ensure_future(self._push(cid))

    async def _push(self, campaign_id: int) -> None:
        while self.ws_connection is not None:
            try:
                data = await off_loop(figures, self.db, campaign_id)
            except overview.FiguresTooSlow:  # the page keeps the figures it has; the next try comes later
                await asyncio.sleep(PUSH_EVERY * SLOW_BACK_OFF)
                continue
            if data is None or self.ws_connection is None:
                return
            try:
                await self.write_message(tornado.escape.json_encode(data))
            except tornado.websocket.WebSocketClosedError:
                return
            if data["status"] in st.CAMPAIGN_ENDED:
                return
            await asyncio.sleep(PUSH_EVERY)

    def on_message(self, message: str | bytes) -> None:
        """The page only listens."""

    def on_close(self) -> None:
        task = getattr(self, "_task", None)
        if task is not None:
            task.cancel()

    def check_origin(self, origin: str) -> bool:
        """Same origin only: a signed-in user's cookie must not let another site watch."""
        return tornado.httputil.urlparse(origin).netloc == self.request.host


LIVE_ROUTES = [(r"/campaigns/(\d+)/live", CampaignLive)]
