"""Messages held back for their time: quiet hours in the recipient's zone, or the recipient's own
local send time (statuses.HELD, with the instant each may go in messages.not_before). A campaign
page and the lists say how many wait and until when, so that "running" with nothing moving is
never a mystery."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from engage.engine import statuses as st
from engage.engine.store.schema import Message
from engage.engine.store.time_budget import OverBudget, budget


def held(conn: Connection, campaign_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """{campaign id: {"count", "first", "last"}} of its held messages (UTC instants), for campaigns
    with any: one grouped query for all of them."""
    ids = list(campaign_ids)
    if not ids:
        return {}
    rows = conn.execute(select(Message.campaign_id, func.count(), func.min(Message.not_before),
                               func.max(Message.not_before))
                        .where(Message.campaign_id.in_(ids), Message.status == st.HELD)
                        .group_by(Message.campaign_id)).all()
    return {cid: {"count": n, "first": _utc(first), "last": _utc(last)} for cid, n, first, last in rows}


def held_within(conn: Connection, campaign_ids: Iterable[int], seconds: float) -> dict[int, dict[str, Any]] | None:
    """``held``, stopped after ``seconds`` (a table locked, or millions of messages): None then, and the
    page goes on without it. On a connection not in a transaction: the budget needs one of its own."""
    try:
        with conn.begin(), budget(conn, seconds):
            return held(conn, campaign_ids)
    except OverBudget:
        return None


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
