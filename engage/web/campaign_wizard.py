"""The campaign wizard: one form in four steps (audience, message, schedule and delivery rules,
review; campaign_wizard.js shows one at a time, and without it the form is one page that still
works). Each step is checked whole by engine.campaigns.checks (the same messages the command line and
the API give), every mistake beside the input it names with what was typed kept; the last step shows
engine.campaigns.review. The same form edits a draft; a draft can be deleted; a test send goes to
staff numbers from the campaign page."""

from __future__ import annotations

import re
import uuid
from typing import Any

import tornado.httputil
import tornado.web
from tornado.escape import xhtml_escape

from engage.engine.campaigns import CampaignError, records
from engage.engine.campaigns.checks import problems
from engage.engine.campaigns.review import review, unsaved
from engage.engine.campaigns.trial_sends import send_test
from engage.engine.segments import store as segments
from engage.engine.templates import store as templates
from engage.engine.users.roles import CAMPAIGN_MAKERS
from engage.web.campaign_form import WEEKDAYS, arms_text, changes_from, fields_from, form_from, input_for, options_from
from engage.web.campaign_pages import money
from engage.web.campaigns_api import visible
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

REVIEW_SECONDS = 5.0  # the review's estimate: past it the review says the cost could not be counted in time


class CampaignFormPage(PageHandler):
    """What the new and the edit page share: reading the form, checking it whole, and drawing it with
    every mistake beside its input."""

    def read_form(self) -> tuple[dict[str, str], list[str]]:
        form = {k: self.get_body_argument(k, "").strip() for k in self.request.body_arguments if k != "days"}
        return form, [d for d in self.get_body_arguments("days") if d in WEEKDAYS]

    def problems(self, form: dict[str, str], days: list[str], *, branch: str | None,
                 keep: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[CampaignError]]:
        """The form checked whole (campaigns.checks.problems): the values that were right, and every mistake.
        ``keep``: a draft's saved options, under those the form sets (as update_draft merges them)."""
        fields = fields_from(form)
        try:
            options = options_from(form, days)
        except CampaignError as exc:
            options, early = {}, [exc]
        else:
            early = []
        options = {k: v for k, v in {**(keep or {}), **options}.items() if v is not None}
        with self.db.connect() as conn:
            values, found = problems(conn, fields, options, template_id=fields["template_id"], branch=branch)
        return values, early + found

    def show(self, form: dict[str, str], days: list[str], found: list[CampaignError] | None = None,
             campaign_id: int | None = None) -> None:
        """The form; each mistake beside the input it names, whose typed value stays; the others above it."""
        with self.db.connect() as conn:
            options = {"segments": segments.visible(conn, self.current_user.branch),
                       "templates": templates.list_all(conn, self.current_user.branch)}
        errors, general = errors_by_input(found or [])

        def invalid(name: str) -> str:
            return f' aria-invalid="true" aria-describedby="error-{name}"' if name in errors else ""

        def field_error(name: str) -> str:
            if name not in errors:
                return f'<span class="field-error error" id="error-{name}" hidden></span>'
            return f'<span class="field-error error" id="error-{name}">{xhtml_escape(errors[name])}</span>'

        form.setdefault("creation_key", uuid.uuid4().hex)
        if campaign_id is None:  # a new campaign's times are the author's; a draft keeps what it has
            form.setdefault("timezone", self.user_zone())
        self.render("campaign_new.html", form=form, days=days, weekdays=WEEKDAYS, errors=errors, general=general,
                    invalid=invalid, field_error=field_error, campaign_id=campaign_id,
                    kept_arms=arms_text(form.get("arms_json")), **options)


def errors_by_input(found: list[CampaignError]) -> tuple[dict[str, str], list[str]]:
    """{input: message} for mistakes an input is named for (the first per input), and the rest."""
    errors: dict[str, str] = {}
    general = []
    for exc in found:
        at = input_for(exc)
        if at is None:
            general.append(str(exc))
        else:
            errors.setdefault(at, str(exc))
    return errors, general


class CampaignWizardPage(CampaignFormPage):
    @requires(*CAMPAIGN_MAKERS)
    def get(self) -> None:
        self.show({}, [])

    @requires(*CAMPAIGN_MAKERS)
    def post(self) -> None:
        form, days = self.read_form()
        user, key = self.current_user, form.get("creation_key") or None
        with self.db.connect() as conn:
            made = records.created_with(conn, user.email, key) if key else None
        if made is None:
            _, found = self.problems(form, days, branch=user.branch)
            if found:
                self.show(form, days, found)
                return
            try:
                made, new = records.create_once(self.db, creation_key=key, actor=user.email, branch=user.branch,
                                                **fields_from(form), **options_from(form, days))
            except CampaignError as exc:
                self.show(form, days, [exc])
                return
        else:
            new = False
        done = "created as a draft" if new else "was already created from this form: here it is"
        self.redirect(f"/campaigns/{made}?" + tornado.httputil.urlencode({"done": done}))


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
        _, found = self.problems(form, days, branch=self.current_user.branch)
        if found:
            self.show(form, days, found, campaign_id=cid)
            return
        try:
            with self.db.begin() as conn:
                changes = records.update_draft(conn, cid, actor=self.current_user.email, **changes_from(form, days))
        except CampaignError as exc:
            self.show(form, days, [exc], campaign_id=cid)
            return
        done = f"saved ({', '.join(sorted(changes))} changed)" if changes else "saved: nothing had changed"
        self.redirect(f"/campaigns/{cid}?" + tornado.httputil.urlencode({"done": done}))

    def _visible(self, campaign_id: str) -> int:
        if not visible(self.db, int(campaign_id), self.current_user.branch):
            raise tornado.web.HTTPError(404)
        return int(campaign_id)


class WizardCheck(CampaignFormPage):
    """POST (XSRF) the wizard's form as it stands: every mistake by input, as JSON, so that a step shows
    all of its own at once; with ?review=1 and no mistake, the review the last step shows
    (campaigns.review), drawn by the same template as the campaign and approvals pages."""

    @requires(*CAMPAIGN_MAKERS)
    async def post(self) -> None:
        form, days = self.read_form()
        branch = self.current_user.branch
        values, found = await off_loop(self.problems, form, days, branch=branch)
        errors, general = errors_by_input(found)
        answer: dict[str, Any] = {"errors": errors, "general": general, "review": None}
        if not found and self.get_query_argument("review", ""):
            row = unsaved(values, branch=branch, name=values.get("name", ""))
            answer["review"] = self.render_string("campaign_review.html", r=await off_loop(self._review, row),
                                                  money=money).decode()
        self.write(answer)

    def _review(self, row: Any) -> dict[str, Any]:
        with self.db.connect() as conn:
            return review(conn, row, seconds=REVIEW_SECONDS)


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
    (r"/campaigns/check", WizardCheck),
    (r"/campaigns/(\d+)/edit", CampaignEditPage),
    (r"/campaigns/(\d+)/delete", DeleteDraftAction),
    (r"/campaigns/(\d+)/test", TestSendAction),
]
