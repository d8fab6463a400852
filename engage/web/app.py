"""The web process: pages and /api/v1 over engage.engine. Handlers parse, call, format.

Pages need a signed-in user (engage.web.sessions_web); /api/v1 takes a bearer token or a session.
A user or token bound to a branch sees only that branch's campaigns."""

from __future__ import annotations

import os
from typing import Any

import tornado.web
from sqlalchemy import Engine

from engage.engine.campaigns import overview as campaign_overview
from engage.engine.campaigns.records import answers as campaign_answers
from engage.engine.campaigns.rejections import last_rejection
from engage.engine.users.roles import CAMPAIGN_MAKERS
from engage.web.account_pages import ACCOUNT_ROUTES
from engage.web.admin_pages import ADMIN_ROUTES
from engage.web.analytics_pages import ANALYTICS_ROUTES
from engage.web.audience_api import AUDIENCE_ROUTES, api_tokens
from engage.web.callbacks import callback_routes
from engage.web.campaign_live import LIVE_ROUTES
from engage.web.campaign_pages import (
    CAMPAIGN_ACTION_ROUTES,
    REVIEWED,
    actions_for,
    campaign_held,
    campaign_review,
    money,
)
from engage.web.campaign_wizard import WIZARD_ROUTES
from engage.web.campaigns_api import CAMPAIGN_API_ROUTES, campaign_summary
from engage.web.dashboard_page import DASHBOARD_ROUTES
from engage.web.inbound_pages import INBOUND_ROUTES
from engage.web.keyword_pages import KEYWORD_ROUTES
from engage.web.loyalty_adjustment_pages import LOYALTY_ADJUSTMENT_ROUTES
from engage.web.loyalty_api import LOYALTY_API_ROUTES
from engage.web.loyalty_catalogue_pages import LOYALTY_CATALOGUE_ROUTES
from engage.web.loyalty_incident_pages import LOYALTY_INCIDENT_ROUTES
from engage.web.loyalty_level_pages import LOYALTY_LEVEL_ROUTES
from engage.web.loyalty_load_pages import LOYALTY_LOAD_ROUTES
from engage.web.loyalty_members_api import LOYALTY_MEMBERS_API_ROUTES
from engage.web.loyalty_pages import LOYALTY_ROUTES
from engage.web.loyalty_partner_pages import LOYALTY_PARTNER_ROUTES
from engage.web.loyalty_report_pages import LOYALTY_REPORT_ROUTES
from engage.web.loyalty_settings_pages import LOYALTY_SETTINGS_ROUTES
from engage.web.off_loop import off_loop
from engage.web.openapi import OPENAPI_ROUTES
from engage.web.path_ids import NotFound, checked
from engage.web.provider_pages import PROVIDER_ROUTES
from engage.web.providers_api import PROVIDER_API_ROUTES
from engage.web.security_headers import SecurityHeaders
from engage.web.segment_pages import SEGMENT_ROUTES
from engage.web.sessions_web import SESSION_ROUTES, PageHandler, cookie_secret, requires
from engage.web.subscriber_pages import SUBSCRIBER_PAGE_ROUTES
from engage.web.subscribers_api import SUBSCRIBER_API_ROUTES
from engage.web.template_pages import TEMPLATE_ROUTES
from engage.web.ussd_gateway import ussd_gateway_routes
from engage.web.ussd_pages import USSD_PAGE_ROUTES

TEMPLATES = __import__("pathlib").Path(__file__).with_name("templates")


class CampaignsPage(PageHandler):
    """Campaigns, and apart from them test sends and keyword replies (campaigns.overview.apart)."""

    @requires()
    async def get(self) -> None:
        listed = await off_loop(self._listed, self.current_user.branch)  # groups their messages
        self.render("campaigns.html", **listed,
                    can_make=self.current_user.role in CAMPAIGN_MAKERS, notice=self.get_query_argument("done", None))

    def _listed(self, branch: str | None) -> dict[str, list[dict[str, Any]]]:
        with self.db.connect() as conn:
            return campaign_overview.apart(conn, branch)


class CampaignPage(PageHandler):
    @requires()
    async def get(self, campaign_id: str) -> None:
        summary = await off_loop(campaign_summary, self.db, int(campaign_id), self.current_user.branch)
        if summary is None:
            raise tornado.web.HTTPError(404)
        rejected = await off_loop(self._rejection, int(campaign_id)) if summary["status"] == "draft" else None
        review = await off_loop(campaign_review, self.db, int(campaign_id)) if summary["status"] in REVIEWED else None
        self.render("campaign.html", c=summary, answers=await off_loop(self._answers, int(campaign_id)),
                    rejected=rejected, review=review, money=money,
                    held=await off_loop(campaign_held, self.db, int(campaign_id)),
                    actions=actions_for(summary["status"], self.current_user.role),
                    can_test=self.current_user.role in CAMPAIGN_MAKERS and summary["kind"] != "test",
                    notice=self.get_query_argument("done", None), error=self.get_query_argument("error", None))


    def _answers(self, campaign_id: int) -> dict[str, int]:
        with self.db.connect() as conn:
            return campaign_answers(conn, campaign_id)

    def _rejection(self, campaign_id: int) -> dict[str, Any] | None:
        with self.db.connect() as conn:
            return last_rejection(conn, campaign_id)


MAX_BODY_BYTES = 4 * 1024 * 1024  # of a request that is not an upload: 10,000 subscribers of JSON fit


class EngageApplication(tornado.web.Application):
    """Listens with a body limit for ordinary requests: Tornado's default (100 MB) buffered whole and
    parsed as JSON would grow the process by gigabytes. Upload handlers raise the limit for their
    own request as it starts (web.uploads), to ENGAGE_MAX_UPLOAD_MB."""

    def listen(self, port: int, address: str | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("max_body_size", MAX_BODY_BYTES)
        return super().listen(port, address, **kwargs)


def make_app(engine: Engine, *, debug: bool = False, tokens: str | None = None,
             secret: str | None = None) -> tornado.web.Application:
    """``tokens``: the API tokens spec ("token[@branch],..."); ENGAGE_API_TOKENS when None.
    ``secret``: the cookie secret; sessions_web.cookie_secret() (ENGAGE_COOKIE_SECRET) when None.
    ENGAGE_BEHIND_PROXY=1: X-Forwarded-Proto is believed (cookies Secure behind an HTTPS proxy);
    ENGAGE_METRICS_TOKEN: the bearer token Prometheus scrapes /metrics with."""
    return EngageApplication(
        checked([
            (r"/", tornado.web.RedirectHandler, {"url": "/dashboard"}),
            *DASHBOARD_ROUTES,
            *ADMIN_ROUTES,
            *ACCOUNT_ROUTES,
            *INBOUND_ROUTES,
            *KEYWORD_ROUTES,
            *LOYALTY_ROUTES,
            *LOYALTY_REPORT_ROUTES,
            *LOYALTY_LOAD_ROUTES,
            *LOYALTY_ADJUSTMENT_ROUTES,
            *LOYALTY_SETTINGS_ROUTES,
            *LOYALTY_LEVEL_ROUTES,
            *LOYALTY_CATALOGUE_ROUTES,
            *LOYALTY_PARTNER_ROUTES,
            *LOYALTY_INCIDENT_ROUTES,
            *USSD_PAGE_ROUTES,
            *ANALYTICS_ROUTES,
            *PROVIDER_ROUTES,
            *SESSION_ROUTES,
            (r"/campaigns", CampaignsPage),
            *WIZARD_ROUTES,
            *LIVE_ROUTES,
            (r"/campaigns/(\d+)", CampaignPage),
            *CAMPAIGN_ACTION_ROUTES,
            *TEMPLATE_ROUTES,
            *SEGMENT_ROUTES,
            *SUBSCRIBER_PAGE_ROUTES,
            *CAMPAIGN_API_ROUTES,
            *OPENAPI_ROUTES,
            *AUDIENCE_ROUTES,
            *SUBSCRIBER_API_ROUTES,
            *PROVIDER_API_ROUTES,
            *LOYALTY_API_ROUTES,
            *LOYALTY_MEMBERS_API_ROUTES,
            (r"/metrics", "engage.web.metrics_handler.MetricsHandler"),
            *callback_routes(engine),
            *ussd_gateway_routes(engine),
        ]),
        default_handler_class=NotFound,
        template_path=str(TEMPLATES),
        static_path=str(TEMPLATES.with_name("static")),
        db=engine,
        api_tokens=api_tokens(tokens),
        cookie_secret=secret or cookie_secret(),
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"samesite": "Lax"},
        login_url="/login",
        debug=debug,
        autoescape="xhtml_escape",
        transforms=[SecurityHeaders],
        behind_proxy=os.environ.get("ENGAGE_BEHIND_PROXY", "") == "1",
        metrics_token=os.environ.get("ENGAGE_METRICS_TOKEN", "").strip() or None,
    )
