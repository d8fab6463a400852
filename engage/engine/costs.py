"""What a campaign has cost: the prices recorded on its messages, per currency.

A message costs money once a provider accepted it (submitted_at is set): one that failed before
any provider took it, or is still waiting, has cost nothing yet.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, func, select

from engage.engine.store.schema import Message


def campaign_cost(conn: Connection, campaign_id: int) -> dict[str, Decimal]:
    rows = conn.execute(select(Message.currency, func.sum(Message.price)).where(
        Message.campaign_id == campaign_id, Message.price.is_not(None), Message.submitted_at.is_not(None),
    ).group_by(Message.currency).order_by(Message.currency)).all()
    return {currency: Decimal(str(total)).quantize(Decimal("0.000001")) for currency, total in rows
            if currency is not None}
