"""The demo's subscribers after its campaign: some of them recharge, more of those who got the message
than of the control group held back from it, as the usage import would record it, so that the
Analytics page opens on a real report (conversion, uplift and its interval, customer groups) rather
than on an empty one. Their recharges fall between delivery (for the control group: the run's start)
and now: nothing is dated in the future."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from engage.engine.analytics.effectiveness.refresh import refresh
from engage.engine.analytics.effectiveness.settings import set_settings
from engage.engine.store.schema import CampaignRun, Message, UsageEvent

RECHARGED = {"delivered": 0.40, "control": 0.05}  # of each group; anyone else: the control group's rate
KIND = "recharge"
# what the demo's subscribers have: their city, language, gender and birth date (sample_subscribers)
JUDGED = {"conversion": {"kind": KIND, "days": 7}, "response_hours": 72,
          "groups": ["city", "language", "gender", "age_band"]}


def recharges(engine: Engine, campaign_id: int, seed: int = 11) -> dict[str, Any]:
    """Record the recharges and compute the campaign's effectiveness; what the report then says."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        started = conn.execute(select(CampaignRun.started_at).where(CampaignRun.campaign_id == campaign_id)
                               .order_by(CampaignRun.id)).scalar()
        rows = conn.execute(select(Message.subscriber_id, Message.status, Message.done_at)
                            .where(Message.campaign_id == campaign_id)).all()
        usage = []
        for subscriber_id, status, done_at in rows:
            since = _aware(done_at if status == "delivered" and done_at else started or now)
            if rng.random() < RECHARGED.get(status, RECHARGED["control"]):
                usage.append({"subscriber_id": subscriber_id, "kind": KIND, "amount": float(rng.choice((10, 20, 50))),
                              "at": since + (now - since) * rng.random()})
        if usage:
            conn.execute(insert(UsageEvent.__table__), usage)
        set_settings(conn, campaign_id, JUDGED, actor="demo")
    computed = refresh(engine, campaign_id, now=now)
    return {"recharges": len(usage), "effectiveness_rows": computed["rows"]}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
