"""The loyalty back office: a programme's figures (members by level, the liability, what was issued,
redeemed and expired, per rule), its earning rules with a form that creates one or adds a version
and a tester that says what events would give before anything is saved, and a member's ledger
looked up by number (support answers subscribers with it). Admin and marketer of no branch edit
rules (a programme serves the whole operator); support and analysts read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import tornado.web

from engage.engine.audit import audit
from engage.engine.loyalty import overview, programmes, rules, scoring
from engage.engine.users.roles import LOYALTY_EDITORS, LOYALTY_READERS
from engage.web.loyalty_adjustment_pages import member_adjustments, waiting_for
from engage.web.loyalty_forms import programme_in
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

EXAMPLE = '{"kind": "call_out", "every": 100, "points": 10}'
MAX_TRIED = 50  # events the tester takes


class LoyaltyPage(PageHandler):
    @requires(*LOYALTY_READERS)
    async def get(self) -> None:
        wanted = self.get_query_argument("programme", "").strip().lower()

        def read() -> dict[str, Any]:
            with self.db.connect() as conn:
                listed = overview.programmes_listed(conn)
                chosen = next((p for p in listed if p["code"] == wanted), listed[0] if listed else None)
                if chosen is None:
                    return {"listed": listed}
                return {"listed": listed, "chosen": chosen, "figures": overview.figures(conn, chosen["id"]),
                        "rules": overview.rules_listed(conn, chosen["id"]),
                        "adjustments_waiting": waiting_for(conn, chosen["id"], self.current_user)}
        shown = await off_loop(read)
        self.render("loyalty.html", can_edit=_may_edit(self), **shown)


class LoyaltyRulePage(PageHandler):
    @requires(*LOYALTY_READERS)
    async def get(self, programme_code: str, rule_code: str | None = None) -> None:
        programme, versions = await off_loop(lambda: self._read(programme_code, rule_code))
        latest = versions[0] if versions else None
        self._show(programme, rule_code, versions, {
            "code": rule_code or "", "name": "", "valid_from": "", "events": "", "level": "",
            "definition": json.dumps(latest["definition"]) if latest else EXAMPLE}, {},
            saved=bool(self.get_query_argument("saved", "")))

    @requires(*LOYALTY_EDITORS)
    async def post(self, programme_code: str, rule_code: str | None = None) -> None:
        if self.current_user.branch is not None:
            raise tornado.web.HTTPError(403, "a programme is the whole operator's: a user of no branch changes it")
        programme, versions = await off_loop(lambda: self._read(programme_code, rule_code))
        arg = self.get_body_argument
        form = {"code": rule_code or arg("code", "").strip()[:32], "name": arg("name", "").strip()[:100],
                "definition": arg("definition", "")[:4000], "valid_from": arg("valid_from", "").strip(),
                "events": arg("events", "")[:4000], "level": arg("level", "").strip()[:32]}
        wrong: dict[str, str] = {}
        definition = _json(form["definition"], wrong)
        moment = _moment(form["valid_from"], wrong)
        if arg("do", "") == "try":
            tried = None if wrong else _try(definition, form["events"], form["level"], wrong)
            self._show(programme, rule_code, versions, form, wrong, tried=tried, status=400 if wrong else 200)
            return
        if not wrong:
            def save() -> str:
                with self.db.begin() as conn:
                    if rule_code:
                        made = rules.change(conn, programme.id, rule_code, definition, actor=self.current_user.email,
                                            valid_from=moment)
                    else:
                        made = rules.create(conn, programme.id, form["code"], form["name"] or form["code"],
                                            definition, actor=self.current_user.email, valid_from=moment)
                    audit(conn, self.current_user.email, "loyalty.rule.change" if rule_code else "loyalty.rule.create",
                          "loyalty_rule", made.rule_id, version=made.version, definition=made.definition.as_json())
                    return made.code
            try:
                saved = await off_loop(save)
            except rules.EarningRuleError as exc:
                wrong[exc.field if exc.field in ("code", "valid_from") else "definition"] = str(exc)
            else:
                self.redirect(f"/loyalty/{programme.code}/rules/{saved}?saved=1", status=303)
                return
        self._show(programme, rule_code, versions, form, wrong, status=400)

    def _read(self, programme_code: str, rule_code: str | None) -> tuple[programmes.Programme, list[dict[str, Any]]]:
        with self.db.connect() as conn:
            programme = programme_in(conn, programme_code)
            versions = overview.rule_versions(conn, programme.id, rule_code) if rule_code else []
        if rule_code and not versions:
            raise tornado.web.HTTPError(404)
        return programme, versions

    def _show(self, programme: programmes.Programme, rule_code: str | None, versions: list[dict[str, Any]],
              form: dict[str, Any], wrong: dict[str, str], *, tried: list[dict[str, Any]] | None = None,
              saved: bool = False, status: int = 200) -> None:
        self.set_status(status)
        self.render("loyalty_rule.html", programme=programme, rule_code=rule_code, versions=versions, form=form,
                    wrong=wrong, tried=tried, saved=saved, can_edit=_may_edit(self))


class LoyaltyMemberPage(PageHandler):
    @requires(*LOYALTY_READERS)
    async def get(self, programme_code: str) -> None:
        msisdn = self.get_query_argument("msisdn", "").strip()[:20]

        def read() -> tuple[programmes.Programme, dict[str, Any] | None]:
            with self.db.connect() as conn:
                programme = programme_in(conn, programme_code)
                found = overview.member(conn, programme.id, msisdn, branch=self.current_user.branch) if msisdn else None
                if found is not None:
                    found["adjusting"] = member_adjustments(conn, programme.id, found["id"], self.current_user)
                return programme, found
        programme, found = await off_loop(read)
        self.render("loyalty_member.html", programme=programme, msisdn=msisdn, member=found)


def _may_edit(handler: PageHandler) -> bool:
    user = handler.current_user
    return user is not None and user.role in LOYALTY_EDITORS and user.branch is None


def _json(text: str, wrong: dict[str, str]) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        wrong["definition"] = f"definition: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        return None


def _moment(text: str, wrong: dict[str, str]) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        wrong["valid_from"] = f"valid_from: {text!r} is not a date and time such as 2027-01-01T00:00"
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _try(definition: Any, events: str, level: str, wrong: dict[str, str]) -> list[dict[str, Any]] | None:
    """The tester: each line "TIME=AMOUNT" (or "AMOUNT", now); what each gives under the definition."""
    parsed = []
    for n, line in enumerate((x.strip() for x in events.splitlines() if x.strip()), 1):
        if n > MAX_TRIED:
            break
        at_text, _, amount_text = line.rpartition("=")
        try:
            at = datetime.fromisoformat(at_text) if at_text else datetime.now(UTC)
            parsed.append((at if at.tzinfo else at.replace(tzinfo=UTC), float(amount_text)))
        except ValueError:
            wrong["events"] = f"events: line {n}: {line!r} is not TIME=AMOUNT, e.g. 2027-01-05T09:00=250"
            return None
    if not parsed:
        wrong["events"] = "events: one event a line, TIME=AMOUNT (e.g. 2027-01-05T09:00=250), to try the rule on"
        return None
    try:
        return scoring.trial(definition, parsed, level=level or None)
    except rules.EarningRuleError as exc:
        wrong["definition"] = str(exc)
        return None


LOYALTY_ROUTES = [(r"/loyalty", LoyaltyPage), (r"/loyalty/([a-z0-9_-]+)/rules/new", LoyaltyRulePage),
                  (r"/loyalty/([a-z0-9_-]+)/rules/([a-z0-9_-]+)", LoyaltyRulePage),
                  (r"/loyalty/([a-z0-9_-]+)/member", LoyaltyMemberPage)]
