"""The campaign wizard: audience, content, sender id, schedule (once, recurring, recipients' local
time), quiet hours, pacing, frequency cap, control group and A/B arms on one form, checked by
engine.campaigns (the same messages the command line and the API give); and a test send to staff
numbers from the campaign page."""

from __future__ import annotations

import re
from typing import Any

import tornado.httputil
import tornado.web

from engage.engine.campaigns import CampaignError
from engage.engine.campaigns import create as create_campaign
from engage.engine.campaigns.test_sends import send_test
from engage.engine.segments import store as segments
from engage.engine.templates import store as templates
from engage.engine.users.roles import CAMPAIGN_MAKERS
from engage.web.campaigns_api import visible
from engage.web.sessions_web import PageHandler, requires

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def schedule_from(form: dict[str, str], days: list[str]) -> dict[str, Any] | None:
    """The schedule spec from the form's fields; None for "now"."""
    kind = form.get("schedule", "now")
    if kind == "now":
        return None
    if kind == "at":
        return {"kind": "at", "at": form.get("at", "")}
    if kind == "cron":
        return {"kind": "cron", "cron": form.get("cron", "")}
    spec: dict[str, Any] = {"kind": kind, "time": form.get("time", "")}
    if kind == "weekly":
        spec["days"] = days
    if kind == "monthly":
        spec["day"] = int(form.get("day") or 0)
    return spec


def options_from(form: dict[str, str], days: list[str]) -> dict[str, Any]:
    """Campaign options from the form; empty fields are left out (the defaults apply)."""
    out: dict[str, Any] = {"kind": form.get("kind") or "marketing"}
    schedule = schedule_from(form, days)
    if schedule:
        out["schedule"] = schedule
    for name in ("local_time", "quiet_hours", "timezone"):
        if form.get(name):
            out[name] = form[name]
    for name in ("deadline_minutes", "max_rate", "seed", "max_parts"):
        if form.get(name):
            try:
                out[name] = int(form[name])
            except ValueError:
                raise CampaignError(f"{name}: {form[name]!r} is not a whole number") from None
    if form.get("control_percent"):
        out["control_share"] = float(form["control_percent"]) / 100
    if form.get("cap_count") and form.get("cap_days"):
        out["cap"] = {"count": int(form["cap_count"]), "days": int(form["cap_days"])}
    if form.get("arm_b_percent"):
        b = float(form["arm_b_percent"])
        out["arms"] = [{"arm": "A", "share": 100 - b}, {"arm": "B", "share": b}]
    return out


class CampaignWizardPage(PageHandler):
    @requires(*CAMPAIGN_MAKERS)
    def get(self) -> None:
        self._form({}, [], None)

    @requires(*CAMPAIGN_MAKERS)
    def post(self) -> None:
        form = {k: self.get_body_argument(k, "").strip() for k in self.request.body_arguments if k != "days"}
        days = [d for d in self.get_body_arguments("days") if d in WEEKDAYS]
        try:
            with self.db.begin() as conn:
                campaign_id = create_campaign(
                    conn, name=form.get("name", ""), segment_id=int(form.get("segment") or 0),
                    template_id=int(form.get("template") or 0), sender_id=form.get("sender", ""),
                    actor=self.current_user.email, branch=self.current_user.branch, **options_from(form, days))
        except (CampaignError, ValueError) as exc:
            self._form(form, days, str(exc))
            return
        self.redirect(f"/campaigns/{campaign_id}?" + tornado.httputil.urlencode({"done": "created as a draft"}))

    def _form(self, form: dict[str, str], days: list[str], error: str | None) -> None:
        with self.db.connect() as conn:
            options = {"segments": segments.visible(conn, self.current_user.branch),
                       "templates": templates.list_all(conn)}
        self.render("campaign_new.html", form=form, days=days, weekdays=WEEKDAYS, error=error, **options)


class TestSendAction(PageHandler):
    @requires(*CAMPAIGN_MAKERS)
    def post(self, campaign_id: str) -> None:
        cid = int(campaign_id)
        if not visible(self.db, cid, self.current_user.branch):
            raise tornado.web.HTTPError(404)
        numbers = [n.strip() for n in re.split(r"[,;\n]", self.get_body_argument("numbers", "")) if n.strip()]
        try:
            sent = send_test(self.db, cid, numbers, actor=self.current_user.email)
        except CampaignError as exc:
            self.redirect(f"/campaigns/{cid}?" + tornado.httputil.urlencode({"error": str(exc)}))
            return
        self.redirect(f"/campaigns/{cid}?" + tornado.httputil.urlencode(
            {"done": f"test sent to {len(sent['numbers'])} numbers as campaign {sent['test_campaign_id']}"}))


WIZARD_ROUTES = [
    (r"/campaigns/new", CampaignWizardPage),
    (r"/campaigns/(\d+)/test", TestSendAction),
]
