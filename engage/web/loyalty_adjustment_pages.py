"""Adjusting a member's points from the back office: support, marketers and admins ask from the
member's ledger page (with a reason); what is above the programme's threshold waits on the
programme's adjustments page until an approver (another person than the asker) approves or
rejects it. A user of a branch sees and adjusts only its branch's members; numbers are masked for
roles that may not see them whole."""

from __future__ import annotations

import urllib.parse
from typing import Any

import tornado.web
from sqlalchemy import Connection, Engine

from engage.engine import phones
from engage.engine.loyalty import adjustments, programmes
from engage.engine.loyalty.adjustments import AdjustmentError, AdjustmentNotFound
from engage.engine.loyalty.ledger import InsufficientPoints
from engage.engine.users.roles import LOYALTY_ADJUSTERS, LOYALTY_APPROVERS, LOYALTY_READERS, NUMBER_READERS, Grantee
from engage.web.loyalty_forms import programme_in
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

ADJUSTMENT_VIEWERS = LOYALTY_ADJUSTERS | LOYALTY_APPROVERS


def member_adjustments(conn: Connection, programme_id: int, member_id: int, user: Grantee) -> dict[str, Any]:
    """What the member's ledger page shows of adjustments: the member's, the threshold, and whether
    this user may ask for one."""
    return {"list": adjustments.of_member(conn, member_id), "threshold": adjustments.threshold(conn, programme_id),
            "may_request": user.role in LOYALTY_ADJUSTERS}


def waiting_for(conn: Connection, programme_id: int, user: Any) -> int | None:
    """How many adjustments wait, for the programme page's link; None for a user the page is not open to."""
    if user.role not in ADJUSTMENT_VIEWERS:
        return None
    return adjustments.waiting(conn, programme_id, branch=user.branch)


def waiting_for_approver(engine: Engine, user: Any) -> list[tuple[str, str, int]]:
    """For the approvals page, where approvers look: the programmes whose adjustments wait, and how many."""
    if user.role not in LOYALTY_APPROVERS:
        return []
    with engine.connect() as conn:
        return adjustments.waiting_by_programme(conn, branch=user.branch)


class LoyaltyAdjustmentsPage(PageHandler):
    @requires(*ADJUSTMENT_VIEWERS)
    async def get(self, programme_code: str) -> None:
        decided = self.get_query_argument("decided", "")
        await _show(self, programme_code, notice=decided if decided in ("posted", "rejected") else None)


async def _show(handler: PageHandler, programme_code: str, *, notice: str | None = None, error: str | None = None,
                status: int = 200) -> None:
    """The waiting adjustments (oldest first, to be decided in turn) and the latest decided."""
    user = handler.current_user

    def read() -> dict[str, Any]:
        with handler.db.connect() as conn:
            programme = programme_in(conn, programme_code)
            return {"programme": programme, "waiting": adjustments.pending(conn, programme.id, branch=user.branch),
                    "decided": adjustments.decided(conn, programme.id, branch=user.branch)}
    shown = await off_loop(read)
    whole = user.role in NUMBER_READERS
    handler.set_status(status)
    handler.render("loyalty_adjustments.html", **shown, notice=notice, error=error, me=user.email,
                   can_decide=user.role in LOYALTY_APPROVERS,
                   number=(lambda n: n) if whole else phones.mask, link_members=whole and user.role in LOYALTY_READERS)


class LoyaltyAdjustmentDecision(PageHandler):
    @requires(*LOYALTY_APPROVERS)
    async def post(self, programme_code: str, adjustment_id: str, action: str) -> None:
        user = self.current_user
        reason = self.get_body_argument("reason", "")[:1000]

        def decide() -> str:
            with self.db.begin() as conn:
                programme = programme_in(conn, programme_code)
                if adjustments.get(conn, int(adjustment_id), branch=user.branch).programme_id != programme.id:
                    raise AdjustmentNotFound(f"adjustment {adjustment_id}: not of {programme.code}")
                if action == "approve":
                    return adjustments.approve(conn, int(adjustment_id), actor=user.email, branch=user.branch).state
                return adjustments.reject(conn, int(adjustment_id), actor=user.email, reason=reason,
                                          branch=user.branch).state
        try:
            state = await off_loop(decide)
        except AdjustmentNotFound:
            raise tornado.web.HTTPError(404) from None
        except (AdjustmentError, InsufficientPoints) as exc:
            status = 409 if getattr(exc, "field", "") == "state" else 400
            await _show(self, programme_code, error=f"Adjustment {adjustment_id} not {action}d: {exc}", status=status)
            return
        self.redirect(f"/loyalty/{programme_code}/adjustments?decided={state}", status=303)


class LoyaltyAdjustmentRequest(PageHandler):
    @requires(*LOYALTY_ADJUSTERS)
    async def post(self, programme_code: str) -> None:
        user, arg = self.current_user, self.get_body_argument
        form = {"msisdn": arg("msisdn", "").strip()[:20], "points": arg("points", "").strip()[:20],
                "reason": arg("reason", "").strip()[:1000]}
        wrong: dict[str, str] = {}
        points = _points(form["points"], wrong)

        def ask() -> tuple[programmes.Programme, adjustments.Adjustment | None]:
            with self.db.begin() as conn:
                programme = programme_in(conn, programme_code)
                if wrong:
                    return programme, None
                member_id = adjustments.member_of(conn, programme.id, form["msisdn"], branch=user.branch)
                if member_id is None:
                    wrong["msisdn"] = f"msisdn: {form['msisdn']!r} is not a member of {programme.name}"
                    return programme, None
                try:
                    return programme, adjustments.request(conn, programme, member_id, points, form["reason"],
                                                          actor=user.email, branch=user.branch)
                except AdjustmentError as exc:
                    wrong[exc.field if exc.field in form else "points"] = str(exc)
                except InsufficientPoints as exc:
                    wrong["points"] = str(exc)
                return programme, None
        programme, made = await off_loop(ask)
        if made is None:
            self.set_status(400)
            self.render("loyalty_adjust.html", programme=programme, form=form, wrong=wrong)
            return
        query = urllib.parse.urlencode({"msisdn": form["msisdn"], "adjusted": made.state})
        self.redirect(f"/loyalty/{programme.code}/member?{query}#adjustments", status=303)


def _points(text: str, wrong: dict[str, str]) -> int:
    try:
        return int(text.replace(",", "").replace(" ", ""))
    except ValueError:
        wrong["points"] = f"points: {text!r} is not a whole number such as 50, or -50 to take points away"
        return 0


LOYALTY_ADJUSTMENT_ROUTES = [
    (r"/loyalty/([a-z0-9_-]+)/adjustments", LoyaltyAdjustmentsPage),
    (r"/loyalty/([a-z0-9_-]+)/adjustments/new", LoyaltyAdjustmentRequest),
    (r"/loyalty/([a-z0-9_-]+)/adjustments/(\d+)/(approve|reject)", LoyaltyAdjustmentDecision),
]
