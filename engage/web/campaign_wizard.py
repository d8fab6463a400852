"""The campaign wizard: audience, content, sender id, schedule (once, recurring, recipients' local
time), quiet hours, pacing, frequency cap, control group and A/B arms on one form, checked by
engine.campaigns (the same messages the command line and the API give), shown beside the input
they name with what was typed kept; the same form edits a draft, and a draft can be deleted; and a
test send to staff numbers from the campaign page."""

from __future__ import annotations

import re

import tornado.httputil
import tornado.web
from tornado.escape import xhtml_escape

from engage.engine.campaigns import CampaignError, records
from engage.engine.campaigns import create as create_campaign
from engage.engine.campaigns.trial_sends import send_test
from engage.engine.segments import store as segments
from engage.engine.templates import store as templates
from engage.engine.users.roles import CAMPAIGN_MAKERS
from engage.web.campaign_form import WEEKDAYS, arms_text, changes_from, fields_from, form_from, input_for, options_from
from engage.web.campaigns_api import visible
from engage.web.sessions_web import PageHandler, requires


class CampaignFormPage(PageHandler):
    """What the new and the edit page share: reading the form, and drawing it with a refusal."""

    def read_form(self) -> tuple[dict[str, str], list[str]]:
        form = {k: self.get_body_argument(k, "").strip() for k in self.request.body_arguments if k != "days"}
        return form, [d for d in self.get_body_arguments("days") if d in WEEKDAYS]

    def show(self, form: dict[str, str], days: list[str], refusal: CampaignError | None = None,
             campaign_id: int | None = None) -> None:
        """The form; a refusal's message above it and beside the input it names, whose typed value stays."""
        with self.db.connect() as conn:
            options = {"segments": segments.visible(conn, self.current_user.branch),
                       "templates": templates.list_all(conn, self.current_user.branch)}
        error, at = (str(refusal), input_for(refusal)) if refusal else (None, None)

        def invalid(name: str) -> str:
            return f' aria-invalid="true" aria-describedby="error-{name}"' if name == at else ""

        def field_error(name: str) -> str:
            if name != at:
                return ""
            return f'<span class="field-error error" id="error-{name}">{xhtml_escape(error)}</span>'

        self.render("campaign_new.html", form=form, days=days, weekdays=WEEKDAYS, error=error, invalid=invalid,
                    field_error=field_error, campaign_id=campaign_id, kept_arms=arms_text(form.get("arms_json")),
                    **options)


class CampaignWizardPage(CampaignFormPage):
    @requires(*CAMPAIGN_MAKERS)
    def get(self) -> None:
        self.show({}, [])

    @requires(*CAMPAIGN_MAKERS)
    def post(self) -> None:
        form, days = self.read_form()
        try:
            with self.db.begin() as conn:
                campaign_id = create_campaign(conn, **fields_from(form), actor=self.current_user.email,
                                              branch=self.current_user.branch, **options_from(form, days))
        except CampaignError as exc:
            self.show(form, days, exc)
            return
        self.redirect(f"/campaigns/{campaign_id}?" + tornado.httputil.urlencode({"done": "created as a draft"}))


class CampaignEditPage(CampaignFormPage):
    """A draft in the wizard, its saved values filled in; saving is engine.campaigns.update_draft.
    A campaign past its draft goes back to its page with the reason."""

    @requires(*CAMPAIGN_MAKERS)
    def get(self, campaign_id: str) -> None:
        cid = self._visible(campaign_id)
        try:
            with self.db.connect() as conn:
                form, days = form_from(records.editable(conn, cid))
        except CampaignError as exc:
            self.redirect(f"/campaigns/{cid}?" + tornado.httputil.urlencode({"error": str(exc)}))
            return
        self.show(form, days, campaign_id=cid)

    @requires(*CAMPAIGN_MAKERS)
    def post(self, campaign_id: str) -> None:
        cid = self._visible(campaign_id)
        form, days = self.read_form()
        try:
            with self.db.begin() as conn:
                changes = records.update_draft(conn, cid, actor=self.current_user.email, **changes_from(form, days))
        except CampaignError as exc:
            self.show(form, days, exc, campaign_id=cid)
            return
        done = f"saved ({', '.join(sorted(changes))} changed)" if changes else "saved: nothing had changed"
        self.redirect(f"/campaigns/{cid}?" + tornado.httputil.urlencode({"done": done}))

    def _visible(self, campaign_id: str) -> int:
        if not visible(self.db, int(campaign_id), self.current_user.branch):
            raise tornado.web.HTTPError(404)
        return int(campaign_id)


class DeleteDraftAction(PageHandler):
    """POST (with the XSRF token; the page asks to confirm first) deletes a draft that never ran."""

    @requires(*CAMPAIGN_MAKERS)
    def post(self, campaign_id: str) -> None:
        cid = int(campaign_id)
        if not visible(self.db, cid, self.current_user.branch):
            raise tornado.web.HTTPError(404)
        try:
            with self.db.begin() as conn:
                name = records.delete_draft(conn, cid, actor=self.current_user.email)
        except CampaignError as exc:
            self.redirect(f"/campaigns/{cid}?" + tornado.httputil.urlencode({"error": str(exc)}))
            return
        self.redirect("/campaigns?" + tornado.httputil.urlencode({"done": f"draft “{name}” deleted"}), status=303)


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
    (r"/campaigns/(\d+)/edit", CampaignEditPage),
    (r"/campaigns/(\d+)/delete", DeleteDraftAction),
    (r"/campaigns/(\d+)/test", TestSendAction),
]
