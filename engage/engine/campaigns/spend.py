"""What a campaign has cost so far, per provider and currency: the campaign page's cost chart.

The same rule as engine.costs: a message costs its recorded price once a provider accepted it
(submitted_at set). One grouped query, a few rows per campaign."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from engage.engine.store.schema import Message, Provider

CENT = Decimal("0.000001")


def by_provider(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    """[{name, currency, cost (text), messages}] by provider name, then currency."""
    rows = conn.execute(select(Provider.name, Message.currency, func.sum(Message.price), func.count()).join(
        Provider, Provider.id == Message.provider_id).where(
        Message.campaign_id == campaign_id, Message.price.is_not(None), Message.currency.is_not(None),
        Message.submitted_at.is_not(None)).group_by(Provider.name, Message.currency)
        .order_by(Provider.name, Message.currency)).all()
    return [{"name": name, "currency": currency, "cost": str(Decimal(str(total)).quantize(CENT)), "messages": n}
            for name, currency, total, n in rows]
