"""Campaign actions from the browser (submit, approve, reject, pause, resume, cancel) and the
approvals page. Each action is a POST with the XSRF token, checked against the user's role and
branch here and against the campaign's state in engine.campaigns.lifecycle (which also refuses a
maker approving their own campaign); the outcome or the reason it was refused is shown on the page."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import tornado.web

from engage import config
from engage.engine import statuses as st
from engage.engine.campaigns import CampaignError, lifecycle, overview
from engage.engine.campaigns import estimate as estimates
from engage.engine.campaigns.estimate import estimate
from engage.engine.scheduler.schedule import ScheduleError, parse_schedule
from engage.engine.users.roles import CAMPAIGN_ACTION_ROLES, CAMPAIGN_APPROVERS, CAMPAIGN_MAKERS
from engage.web.campaigns_api import visible
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

APPROVALS_SECONDS = 15.0  # for the estimates of the whole page: those it does not reach say so
DONE = {"submit": "submitted", "approve": "approved", "reject": "sent back to draft", "pause": "paused",
        "resume": "resumed", "cancel": "cancelled"}


def actions_for(status: str, role: str) -> list[str]:
    """The buttons a user of this role sees on a campaign in this state."""
    by_state = {st.CAMPAIGN_DRAFT: ["submit", "cancel"], st.CAMPAIGN_AWAITING_APPROVAL: ["approve", "reject", "cancel"],
                st.CAMPAIGN_SCHEDULED: ["cancel"], st.CAMPAIGN_RUNNING: ["pause", "cancel"],
                st.CAMPAIGN_PAUSED: ["resume", "cancel"]}
    return [a for a in by_state.get(status, []) if role in CAMPAIGN_ACTION_ROLES[a]]


class CampaignAction(PageHandler):
    @requires()
    def post(self, campaign_id: str, action: str) -> None:
        user, cid = self.current_user, int(campaign_id)
        if user.role not in CAMPAIGN_ACTION_ROLES[action]:
            raise tornado.web.HTTPError(403, reason=f"the {user.role} role may not {action} campaigns")
        if not visible(self.db, cid, user.branch):
            raise tornado.web.HTTPError(404)
        try:
            result = lifecycle.perform(self.db, cid, action, actor=user.email, role=user.role,
                                       reason=self.get_body_argument("reason", "").strip())
        except CampaignError as exc:
            self.redirect(f"/campaigns/{cid}?" + tornado.httputil.urlencode({"error": str(exc)}))
            return
        message = DONE[action]
        if action == "submit":
            message = "submitted: waiting for approval" if result["status"] == st.CAMPAIGN_AWAITING_APPROVAL \
                else "scheduled"
        self.redirect(f"/campaigns/{cid}?" + tornado.httputil.urlencode({"done": message}))


class ApprovalsPage(PageHandler):
    """What waits for a second person, with the audience it would reach now and what sending it
    would cost (campaigns.estimate: cheapest healthy routes in force x parts, per currency). The
    estimates share APPROVALS_SECONDS: one after another, a long list of heavy audiences would
    otherwise hold a worker thread and the approver for minutes."""

    @requires(*CAMPAIGN_APPROVERS, *CAMPAIGN_MAKERS)
    async def get(self) -> None:
        waiting = await off_loop(self._waiting, self.current_user)  # an estimate each: off the IO loop
        self.render("approvals.html", waiting=waiting, money=money)

    def _waiting(self, user: Any) -> list[dict[str, Any]]:
        waiting = []
        deadline = time.monotonic() + APPROVALS_SECONDS
        with self.db.connect() as conn:
            rows = overview.awaiting_approval(conn, user.branch)
            conn.rollback()  # each estimate reads in a transaction of its own, which its budget may end
            for row in rows:
                left = deadline - time.monotonic()
                if left <= 0:
                    cost, problem = None, (f"estimate not computed: the page's {APPROVALS_SECONDS:g} s for estimates "
                                           f"ran out; GET /api/v1/campaigns/{row.id}/estimate gives it")
                    waiting.append(self._row(row, user, cost, problem))
                    continue
                try:
                    seconds = min(estimates.COUNT_SECONDS, max(0.1, round(left, 1)))  # said in the problem: round
                    cost, problem = estimate(conn, row.id, seconds=seconds), None
                except ValueError as exc:  # a segment or template that no longer compiles, or too slow: say so
                    cost, problem = None, str(exc)
                finally:
                    conn.rollback()
                waiting.append(self._row(row, user, cost, problem))
        return waiting

    @staticmethod
    def _row(row: Any, user: Any, cost: dict[str, Any] | None, problem: str | None) -> dict[str, Any]:
        return {"id": row.id, "name": row.name, "submitted_by": row.submitted_by,
                "submitted_at": row.submitted_at, "sender": row.sender_id, "message": _message(row.submitted_content),
                "when": _when(row.schedule, row.timezone),
                "reachable": cost["reachable"] if cost else "?",
                "estimate": cost, "problem": problem,
                "can_decide": user.role in CAMPAIGN_APPROVERS and row.submitted_by != user.email}


def _when(spec: dict[str, Any] | None, timezone: str | None) -> str:
    """When it goes out, in the schedule's own words (Schedule.describe), its zone named."""
    if spec is None:
        return "As soon as it may be sent (no schedule)"
    try:
        return parse_schedule(spec, default_timezone=timezone or config.load().default_timezone).describe()
    except ScheduleError as exc:
        return f"A schedule that cannot be read: {exc}"


def _message(submitted: dict[str, Any] | None) -> str:
    """The text the approver agrees to: arm A in the template's default language, as submitted."""
    template = (submitted or {}).get("template") or {}
    variants = [v for v in template.get("variants") or () if v.get("arm", "A") == "A"]
    first = next((v for v in variants if v.get("language") == template.get("default_language")),
                 variants[0] if variants else None)
    return first["body"] if first else ""


def money(amount: Decimal) -> str:
    """A total as people read it: at least two decimals, no trailing zeros past them (0.0125, 12.40)."""
    text = format(amount.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


CAMPAIGN_ACTION_ROUTES = [
    (r"/campaigns/(\d+)/(submit|approve|reject|pause|resume|cancel)", CampaignAction),
    (r"/approvals", ApprovalsPage),
]
