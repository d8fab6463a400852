"""Campaign actions from the browser (submit, approve, reject, pause, resume, cancel) and the
approvals page. Each action is a POST with the XSRF token, checked against the user's role and
branch here and against the campaign's state in engine.campaigns.lifecycle (which also refuses a
maker approving their own campaign); the outcome or the reason it was refused is shown on the page."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import tornado.web

from engage.engine import statuses as st
from engage.engine.campaigns import CampaignError, lifecycle, overview
from engage.engine.campaigns.held import held_within
from engage.engine.campaigns.review import review, review_of
from engage.engine.segments.audience import COUNT_SECONDS
from engage.engine.users.roles import CAMPAIGN_ACTION_ROLES, CAMPAIGN_APPROVERS, CAMPAIGN_MAKERS
from engage.web.campaigns_api import visible
from engage.web.loyalty_adjustment_pages import waiting_for_approver
from engage.web.loyalty_load_pages import waiting_loads_for_approver
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

HELD_SECONDS = 2.0  # counting a campaign's held messages: past it the page goes on without the sentence
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
    """What waits for a second person, each with the review its author saw before submitting
    (campaigns.review: audience and set-asides, the messages per language and arm, when in words, the
    rules, warnings, and the cost: cheapest healthy routes in force x parts, per currency). The reviews
    share APPROVALS_SECONDS: one after another, a long list of heavy audiences would otherwise hold a
    worker thread and the approver for minutes."""

    @requires(*CAMPAIGN_APPROVERS, *CAMPAIGN_MAKERS)
    async def get(self) -> None:
        waiting = await off_loop(self._waiting, self.current_user)  # a count and an estimate each: off the IO loop
        loyalty = await off_loop(waiting_for_approver, self.db, self.current_user)
        loyalty_loads = await off_loop(waiting_loads_for_approver, self.db, self.current_user)
        self.render("approvals.html", waiting=waiting, money=money, loyalty=loyalty, loyalty_loads=loyalty_loads)

    def _waiting(self, user: Any) -> list[dict[str, Any]]:
        waiting = []
        deadline = time.monotonic() + APPROVALS_SECONDS
        with self.db.connect() as conn:
            rows = overview.awaiting_approval(conn, user.branch)
            conn.rollback()  # each review reads in a transaction of its own, which its budget may end
            for row in rows:
                left = round(deadline - time.monotonic(), 1)  # said in the problem: round
                try:
                    r = review(conn, row, seconds=min(COUNT_SECONDS, left) if left > 0 else 0)
                finally:
                    conn.rollback()
                if left <= 0:
                    r["problem"] = (f"estimate not computed: the page's {APPROVALS_SECONDS:g} s for estimates ran "
                                    f"out; GET /api/v1/campaigns/{row.id}/estimate gives it")
                waiting.append({"id": row.id, "name": row.name, "submitted_by": row.submitted_by,
                                "submitted_at": row.submitted_at, "review": r,
                                "can_decide": user.role in CAMPAIGN_APPROVERS and row.submitted_by != user.email})
        return waiting


REVIEWED = (st.CAMPAIGN_DRAFT, st.CAMPAIGN_AWAITING_APPROVAL, st.CAMPAIGN_SCHEDULED)  # their page shows the review


def campaign_held(db: Any, campaign_id: int) -> dict[str, Any] | None:
    """Its messages waiting for quiet hours to end or for the recipient's local time (campaigns.held)."""
    with db.connect() as conn:
        found = held_within(conn, [campaign_id], HELD_SECONDS)
    return None if found is None else found.get(campaign_id)


def campaign_review(db: Any, campaign_id: int) -> dict[str, Any] | None:
    """The review of a campaign not yet sending, as its page shows it (None: it is gone)."""
    with db.connect() as conn:
        return review_of(conn, campaign_id, seconds=COUNT_SECONDS)


def money(amount: Decimal) -> str:
    """A total as people read it: at least two decimals, no trailing zeros past them (0.0125, 12.40)."""
    text = format(amount.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


CAMPAIGN_ACTION_ROUTES = [
    (r"/campaigns/(\d+)/(submit|approve|reject|pause|resume|cancel)", CampaignAction),
    (r"/approvals", ApprovalsPage),
]
