"""What a campaign has cost: the prices recorded on its messages, per currency.

A message costs money once a provider accepted it (submitted_at is set): one that failed before
any provider took it, or is still waiting, has cost nothing yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Connection, func, select

from engage.engine.store.schema import Message


def campaign_cost(conn: Connection, campaign_id: int) -> dict[str, Decimal]:
    return costs_of(conn, [campaign_id]).get(campaign_id, {})


def costs_of(conn: Connection, campaign_ids: Iterable[int]) -> dict[int, dict[str, Decimal]]:
    """campaign_cost for many campaigns in one grouped query (a campaign that cost nothing is absent)."""
    rows = conn.execute(select(Message.campaign_id, Message.currency, func.sum(Message.price)).where(
        Message.campaign_id.in_(list(campaign_ids)), Message.price.is_not(None), Message.submitted_at.is_not(None),
    ).group_by(Message.campaign_id, Message.currency).order_by(Message.campaign_id, Message.currency)).all()
    out: dict[int, dict[str, Decimal]] = {}
    for campaign_id, currency, total in rows:
        if currency is not None:
            out.setdefault(campaign_id, {})[currency] = Decimal(str(total)).quantize(Decimal("0.000001"))
    return out
