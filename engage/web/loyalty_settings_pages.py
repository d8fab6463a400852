"""A programme set up and changed from the browser: /loyalty/new creates one (code, name, currency,
what a point is worth, how long points live), /loyalty/<p>/settings changes what may change after
(the code and currency stay: entries, partners and statements are kept in them) and the settings
other parts read (the threshold above which an adjustment needs a second person, when members are
told their points will expire, the sender of the programme's texts, the saved segment whose
subscribers are enrolled by themselves). Admin and marketer of no branch
change them; the other readers of the back office see them. Each change is audited with the values
before and after."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engage import config
from engage.engine.audit import audit
from engage.engine.loyalty import programmes
from engage.engine.loyalty.consent_codes import SENDER_SETTING
from engage.engine.loyalty.programmes import ADJUST_APPROVAL_ABOVE, ENROL_SEGMENT, EXPIRY_NOTICE_DAYS
from engage.engine.segments import store as segment_store
from engage.engine.users.roles import LOYALTY_EDITORS, LOYALTY_READERS
from engage.web.loyalty_forms import FieldErrors, may_edit, programme_of, refuse_a_branch, whole
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

NEW_FORM = {"code": "", "name": "", "currency": "USD", "point_value": "0.01", "points_valid_days": "365"}
SETTING_FIELDS = (ADJUST_APPROVAL_ABOVE, EXPIRY_NOTICE_DAYS, SENDER_SETTING)


class LoyaltyNewProgrammePage(PageHandler):
    @requires(*LOYALTY_EDITORS)
    def get(self) -> None:
        refuse_a_branch(self)
        self._show(dict(NEW_FORM, never=""), FieldErrors())

    @requires(*LOYALTY_EDITORS)
    async def post(self) -> None:
        refuse_a_branch(self)
        arg = self.get_body_argument
        form = {key: arg(key, "").strip()[:100] for key in NEW_FORM} | {"never": arg("never", "")}
        form["currency"] = form["currency"].upper()
        wrong = FieldErrors()
        days = None if form["never"] else whole(form["points_valid_days"], "points_valid_days", wrong, blank="")
        if days == "":
            wrong["points_valid_days"] = "how many days points live, or tick “never expire”"
        if wrong:
            self._show(form, wrong, status=400)
            return

        def create() -> programmes.Programme:
            with self.db.begin() as conn:
                made = programmes.create(conn, form["code"], form["name"], currency=form["currency"],
                                         point_value=form["point_value"], points_valid_days=days)
                audit(conn, self.current_user.email, "loyalty.programme.create", "loyalty_programme", made.id,
                      code=made.code, currency=made.currency, **programmes.described(made))
                return made
        try:
            made = await off_loop(create)
        except programmes.ProgrammeError as exc:
            wrong[exc.field] = str(exc)
            self._show(form, wrong, status=400)
            return
        self.redirect(f"/loyalty/{made.code}/settings?created=1", status=303)

    def _show(self, form: dict[str, str], wrong: FieldErrors, *, status: int = 200) -> None:
        self.set_status(status)
        self.render("loyalty_programme_new.html", form=form, wrong=wrong)


class LoyaltyProgrammeSettingsPage(PageHandler):
    @requires(*LOYALTY_READERS)
    async def get(self, code: str) -> None:
        programme = await programme_of(self, code)
        self.segments = await off_loop(self._segments)
        self._show(programme, form_of(programme), FieldErrors(),
                   done="created" if self.get_query_argument("created", "") else
                   "saved" if self.get_query_argument("saved", "") else "")

    @requires(*LOYALTY_EDITORS)
    async def post(self, code: str) -> None:
        refuse_a_branch(self)
        programme = await programme_of(self, code)
        self.segments = await off_loop(self._segments)
        arg = self.get_body_argument
        fields = ("name", "point_value", "points_valid_days", *SETTING_FIELDS, ENROL_SEGMENT)
        form = {key: arg(key, "").strip()[:100] for key in fields} | {"never": arg("never", "")}
        wrong = FieldErrors()
        changes: dict[str, Any] = {"name": form["name"], "point_value": form["point_value"],
                                   SENDER_SETTING: form[SENDER_SETTING]}
        changes["points_valid_days"] = None if form["never"] else whole(
            form["points_valid_days"], "points_valid_days", wrong, blank="")
        if changes["points_valid_days"] == "":
            wrong["points_valid_days"] = "how many days points live, or tick “never expire”"
        for key in (ADJUST_APPROVAL_ABOVE, EXPIRY_NOTICE_DAYS):
            changes[key] = whole(form[key], key, wrong, blank="")
            if changes[key] == "":
                wrong[key] = "a whole number is needed here"
        changes[ENROL_SEGMENT] = whole(form[ENROL_SEGMENT], ENROL_SEGMENT, wrong, blank=None)
        if wrong:
            self._show(programme, form, wrong, status=400)
            return

        def save() -> None:
            with self.db.begin() as conn:
                before = programmes.described(programmes.get(conn, programme.id))
                after = programmes.described(programmes.update(conn, programme.id, changes,
                                                               region=config.load().default_region))
                changed = sorted(key for key in after if after[key] != before[key])
                if changed:
                    audit(conn, self.current_user.email, "loyalty.programme.settings", "loyalty_programme",
                          programme.id, code=programme.code, before={k: before[k] for k in changed},
                          after={k: after[k] for k in changed})
        try:
            await off_loop(save)
        except programmes.ProgrammeError as exc:
            wrong[exc.field] = str(exc)
            self._show(programme, form, wrong, status=400)
            return
        self.redirect(f"/loyalty/{programme.code}/settings?saved=1", status=303)

    def _show(self, programme: programmes.Programme, form: dict[str, str], wrong: FieldErrors, *,
              done: str = "", status: int = 200) -> None:
        self.set_status(status)
        self.render("loyalty_settings.html", programme=programme, form=form, wrong=wrong, done=done,
                    can_edit=may_edit(self), sender_field=SENDER_SETTING, segments=self.segments)

    def _segments(self) -> list[tuple[int, str]]:
        """The saved segments a programme may enrol from, by name."""
        with self.db.connect() as conn:
            return [(s["id"], s["name"]) for s in segment_store.visible(conn, None)]


def form_of(programme: programmes.Programme) -> dict[str, str]:
    """The settings form as the programme is now."""
    days = programme.points_valid_days
    return {"name": programme.name, "point_value": decimal_text(programme.point_value),
            "points_valid_days": "" if days is None else str(days), "never": "" if days else "1",
            **{key: str(programme.setting(key)) for key in SETTING_FIELDS},
            ENROL_SEGMENT: str(programme.setting(ENROL_SEGMENT) or "")}


def decimal_text(value: Decimal) -> str:
    """0.010000 as 0.01, 100 as 100 (not 1E+2)."""
    return format(value.normalize(), "f")


LOYALTY_SETTINGS_ROUTES = [(r"/loyalty/new", LoyaltyNewProgrammePage),
                           (r"/loyalty/([a-z0-9_-]+)/settings", LoyaltyProgrammeSettingsPage)]
