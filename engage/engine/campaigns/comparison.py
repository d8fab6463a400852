"""A/B arms and the control group side by side: what a marketer reads to decide which text won and
whether sending changed anything. One query grouped by arm and status (a million recipients give a
few dozen rows), its replies joined from the `replied` events keywords.handling writes for a
message answered within the reply window, the same ones the campaign's "Replies" figure counts.

Per arm: recipients (its control group members aside), sent (handed to a provider), delivered, the
delivery rate (delivered of those with an outcome; unconfirmed ones count against it, as on the
dashboard: nobody knows them delivered), replies, and the reply rate (of those delivered, as the
campaign's page says it). The control group is every arm's members held back at launch: recorded,
never sent a message, so it has recipients and nothing else."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from engage.engine import statuses as st
from engage.engine.store.schema import Campaign, Event, Message

SENT = (st.SUBMITTED, st.DELIVERED, st.UNDELIVERED, st.EXPIRED, st.REJECTED, st.UNCONFIRMED)
SETTLED = (st.DELIVERED, st.UNDELIVERED, st.EXPIRED, st.REJECTED, st.FAILED, st.UNCONFIRMED)
COUNTED = ("recipients", "sent", "delivered", "settled", "replied")


def arms(conn: Connection, campaign_id: int) -> dict[str, Any] | None:
    """{"arms": [{arm, share, recipients, sent, delivered, settled, delivery_rate, replied,
    reply_rate}, ...] in the campaign's order (arms nobody was put in included), "control":
    {share, recipients} or None when it has no control group}; None when there is no such campaign.
    Rates are fractions rounded to 4 places, None while their base is 0."""
    campaign = conn.execute(select(Campaign.arms, Campaign.control_share).where(Campaign.id == campaign_id)).first()
    if campaign is None:
        return None
    answered = select(Event.message_id).where(
        Event.campaign_id == campaign_id, Event.kind == "replied").distinct().subquery()
    rows = conn.execute(select(Message.arm, Message.status, func.count(), func.count(answered.c.message_id))
                        .outerjoin(answered, answered.c.message_id == Message.id)
                        .where(Message.campaign_id == campaign_id).group_by(Message.arm, Message.status)).all()
    shares = {a["arm"]: a["share"] for a in campaign.arms or [{"arm": "A", "share": 100}]}
    by_arm = {arm: dict.fromkeys(COUNTED, 0) for arm in shares}
    held_back = 0
    for arm, status, n, replied in rows:
        if status == st.CONTROL:
            held_back += n
            continue
        figures = by_arm.setdefault(arm or "A", dict.fromkeys(COUNTED, 0))  # arm None and "A" are one arm
        figures["recipients"] += n
        figures["sent"] += n if status in SENT else 0
        figures["delivered"] += n if status == st.DELIVERED else 0
        figures["settled"] += n if status in SETTLED else 0
        figures["replied"] += replied
    control = None
    if campaign.control_share or held_back:
        control = {"share": round(100 * (campaign.control_share or 0), 2), "recipients": held_back}
    return {"arms": [{"arm": arm, "share": shares.get(arm), **f,
                      "delivery_rate": _rate(f["delivered"], f["settled"]),
                      "reply_rate": _rate(f["replied"], f["delivered"])} for arm, f in by_arm.items()],
            "control": control}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
