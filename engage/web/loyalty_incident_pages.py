"""A programme's incidents page: redemptions still waiting for their fulfilment, and those released
because fulfilment failed, with why (engine/loyalty/incidents.py). Every loyalty reader sees it,
within their branch; numbers are masked for roles that may not see them whole."""

from __future__ import annotations

from typing import Any

from engage.engine.loyalty import incidents
from engage.engine.users.roles import LOYALTY_READERS, NUMBER_READERS
from engage.web.loyalty_forms import programme_in
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires


class LoyaltyIncidentsPage(PageHandler):
    @requires(*LOYALTY_READERS)
    async def get(self, programme_code: str) -> None:
        user = self.current_user

        def read() -> dict[str, Any]:
            with self.db.connect() as conn:
                programme = programme_in(conn, programme_code)
                return {"programme": programme, **incidents.listed(
                    conn, programme.id, branch=user.branch, show_numbers=user.role in NUMBER_READERS)}
        self.render("loyalty_incidents.html", waiting_after=int(incidents.WAITING_AFTER.total_seconds() // 60),
                    failed_days=incidents.FAILED_WITHIN.days, **await off_loop(read))


LOYALTY_INCIDENT_ROUTES = [(r"/loyalty/([a-z0-9_-]+)/incidents", LoyaltyIncidentsPage)]
