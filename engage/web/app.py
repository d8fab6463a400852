"""The web process: pages and /api/v1 over engage.engine. Handlers parse, call, format."""

from __future__ import annotations

from typing import Any

import tornado.web
from sqlalchemy import Engine, select

from engage.engine import campaigns
from engage.engine.store.schema import Campaign
from engage.web.audience_api import AUDIENCE_ROUTES, api_tokens
from engage.web.callbacks import callback_routes

TEMPLATES = __import__("pathlib").Path(__file__).with_name("templates")


class Base(tornado.web.RequestHandler):
    @property
    def db(self) -> Engine:
        return self.application.settings["db"]

    def campaign_list(self) -> list[dict[str, Any]]:
        with self.db.connect() as conn:
            ids = conn.execute(select(Campaign.id).order_by(Campaign.id.desc()).limit(100)).scalars().all()
            return [campaigns.summary(conn, i) for i in ids]


class CampaignsPage(Base):
    def get(self) -> None:
        self.render("campaigns.html", campaigns=self.campaign_list())


class CampaignPage(Base):
    def get(self, campaign_id: str) -> None:
        with self.db.connect() as conn:
            summary = campaigns.summary(conn, int(campaign_id))
        if summary is None:
            raise tornado.web.HTTPError(404)
        self.render("campaign.html", c=summary)


class CampaignsApi(Base):
    def get(self) -> None:
        self.write({"campaigns": self.campaign_list()})


class CampaignApi(Base):
    def get(self, campaign_id: str) -> None:
        with self.db.connect() as conn:
            summary = campaigns.summary(conn, int(campaign_id))
        if summary is None:
            self.set_status(404)
            self.write({"error": f"campaign {campaign_id} does not exist"})
            return
        self.write(summary)


def make_app(engine: Engine, *, debug: bool = False, tokens: str | None = None) -> tornado.web.Application:
    """``tokens``: the API tokens spec ("token[@branch],..."); ENGAGE_API_TOKENS when None."""
    return tornado.web.Application(
        [
            (r"/", tornado.web.RedirectHandler, {"url": "/campaigns"}),
            (r"/campaigns", CampaignsPage),
            (r"/campaigns/(\d+)", CampaignPage),
            (r"/api/v1/campaigns", CampaignsApi),
            (r"/api/v1/campaigns/(\d+)", CampaignApi),
            *AUDIENCE_ROUTES,
            (r"/metrics", "engage.web.metrics_handler.MetricsHandler"),
            *callback_routes(engine),
        ],
        template_path=str(TEMPLATES),
        db=engine,
        api_tokens=api_tokens(tokens),
        debug=debug,
        autoescape="xhtml_escape",
    )
