"""The dashboard: the first page after signing in."""

from __future__ import annotations

from engage.engine import dashboard
from engage.engine.users.roles import CAMPAIGN_MAKERS
from engage.web.sessions_web import PageHandler, requires


class DashboardPage(PageHandler):
    @requires()
    def get(self) -> None:
        with self.db.connect() as conn:
            self.render("dashboard.html", f=dashboard.figures(conn, branch=self.current_user.branch),
                        can_make=self.current_user.role in CAMPAIGN_MAKERS)


DASHBOARD_ROUTES = [(r"/dashboard", DashboardPage)]
