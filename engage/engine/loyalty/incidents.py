"""What in a programme needs a person's eyes: redemptions whose fulfilment has not answered yet
(held points the member cannot spend, kept trying by the fulfilment job), and redemptions released
because fulfilment failed (the member was promised a reward and got their points back instead).
Support reads these to answer a member who calls; an operator reads them to see that a provisioning
system is down. Two queries, each bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select

from engage.engine import phones
from engage.engine.store.database import aware
from engage.engine.store.schema import LoyaltyHold, LoyaltyMember, LoyaltyReward, Subscriber

WAITING_AFTER = timedelta(minutes=5)  # a hold older than this has not been fulfilled in time
FAILED_WITHIN = timedelta(days=7)
SHOWN = 100


def listed(conn: Connection, programme_id: int, *, branch: str | None = None, show_numbers: bool = False,
           now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """The programme's open incidents, newest first: {"waiting": [...], "failed": [...]}. branch:
    the reader's (another branch's members are left out); numbers masked unless show_numbers."""
    now = now or datetime.now(UTC)
    h = LoyaltyHold
    base = (select(h.id, h.points, h.state, h.created_at, h.decided_at, h.detail, Subscriber.msisdn,
                   LoyaltyReward.code.label("reward"))
            .join(LoyaltyMember, LoyaltyMember.id == h.member_id)
            .join(Subscriber, Subscriber.id == LoyaltyMember.subscriber_id)
            .join(LoyaltyReward, LoyaltyReward.id == h.reward_id)
            .where(LoyaltyMember.programme_id == programme_id))
    if branch is not None:
        base = base.where(Subscriber.branch == branch)
    waiting = conn.execute(base.where(h.state == "held", h.created_at < now - WAITING_AFTER)
                           .order_by(h.created_at.desc()).limit(SHOWN)).all()
    failed = conn.execute(base.where(and_(h.state == "released", h.decided_at >= now - FAILED_WITHIN))
                          .order_by(h.decided_at.desc()).limit(SHOWN * 3)).all()
    shown = phones.mask if not show_numbers else (lambda number: number)
    return {"waiting": [_row(r, shown, now) for r in waiting],
            "failed": [_row(r, shown, now) for r in failed if _failed(r.detail)][:SHOWN]}


def _failed(detail: Any) -> bool:
    """A release by fulfilment (it says why), not one a person or the member asked for."""
    return isinstance(detail, dict) and bool(detail.get("error") or detail.get("attempts"))


def _row(row: Any, shown: Any, now: datetime) -> dict[str, Any]:
    detail = row.detail if isinstance(row.detail, dict) else {}
    return {"hold_id": row.id, "msisdn": shown(row.msisdn), "reward": row.reward, "points": row.points,
            "since": aware(row.created_at), "decided_at": aware(row.decided_at) if row.decided_at else None,
            "attempts": int(detail.get("attempts", 0)),
            "why": str(detail.get("error") or detail.get("reason") or "")[:200],
            "waited_minutes": int((now - aware(row.created_at)).total_seconds() // 60)}
