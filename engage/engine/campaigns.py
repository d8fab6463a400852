"""A campaign from draft to done: create, launch (freeze the audience once, set-based),
and know where every one of its messages stands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, func, insert, literal, select, update

from engage.engine import statuses as st
from engage.engine.audit import audit
from engage.engine.costs import campaign_cost
from engage.engine.events import record_one
from engage.engine.segments.audience import Scope, condition, opt_out_join
from engage.engine.store.schema import Campaign, Message, OptOut, Segment, Subscriber, Template

campaigns = Campaign.__table__
messages = Message.__table__


class CampaignError(ValueError):
    pass


def create(conn: Connection, *, name: str, segment_id: int, template_id: int, sender_id: str,
           actor: str, branch: str | None = None) -> int:
    """``branch`` set: a branch user's campaign, which reaches only that branch's subscribers
    and may use only that branch's segments or shared ones."""
    segment = conn.execute(select(Segment.id, Segment.branch).where(Segment.id == segment_id)).first()
    if segment is None:
        raise CampaignError(f"segment {segment_id} does not exist")
    if branch is not None and segment.branch not in (None, branch):
        raise CampaignError(f"segment {segment_id} belongs to another branch")
    if not conn.execute(select(Template.id).where(Template.id == template_id)).first():
        raise CampaignError(f"template {template_id} does not exist")
    if not sender_id or len(sender_id) > 16:
        raise CampaignError("sender_id: needs 1 to 16 characters")
    campaign_id = conn.execute(insert(campaigns).values(
        name=name, segment_id=segment_id, template_id=template_id, sender_id=sender_id, branch=branch,
        status=st.CAMPAIGN_DRAFT, created_by=actor, set_aside={})).inserted_primary_key[0]
    audit(conn, actor, "campaign.create", "campaign", campaign_id, name=name)
    return campaign_id


def launch(engine: Engine, campaign_id: int, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
    """Freeze the audience once, set-based: one INSERT ... SELECT of the reachable subscribers of
    the campaign's branch. Those set aside (opted out) are counted by reason, never silently dropped."""
    with engine.begin() as conn:
        row = conn.execute(select(Campaign.status, Campaign.branch, Segment.definition).join(
            Segment, Segment.id == Campaign.segment_id).where(Campaign.id == campaign_id)).first()
        if row is None:
            raise CampaignError(f"campaign {campaign_id} does not exist")
        if row.status != st.CAMPAIGN_DRAFT:
            raise CampaignError(f"campaign {campaign_id} is {row.status}; only a draft can be launched")
        where = condition(conn, row.definition, Scope(branch=row.branch), now)
        joined = Subscriber.__table__.outerjoin(OptOut.__table__, opt_out_join("sms"))
        set_aside = {"opted_out": conn.execute(select(func.count()).select_from(joined).where(
            where, OptOut.msisdn.is_not(None))).scalar_one()}
        eligible = select(literal(campaign_id), Subscriber.id, Subscriber.msisdn, literal(st.PENDING)).select_from(
            joined).where(where, OptOut.msisdn.is_(None))
        inserted = conn.execute(insert(messages).from_select(
            ["campaign_id", "subscriber_id", "msisdn", "status"], eligible)).rowcount
        if inserted is None or inserted < 0:  # a driver that cannot tell: count what was written
            inserted = conn.execute(select(func.count()).where(Message.campaign_id == campaign_id)).scalar_one()
        conn.execute(update(campaigns).where(Campaign.id == campaign_id).values(
            status=st.CAMPAIGN_RUNNING, audience_size=inserted, set_aside=set_aside, launched_at=func.now()))
        audit(conn, actor, "campaign.launch", "campaign", campaign_id, recipients=inserted, **set_aside)
        record_one(conn, "campaign_launched", campaign_id, recipients=inserted, **set_aside)
    return {"campaign_id": campaign_id, "recipients": inserted, "set_aside": set_aside}


def counts(conn: Connection, campaign_id: int) -> dict[str, int]:
    rows = conn.execute(select(Message.status, func.count()).where(
        Message.campaign_id == campaign_id).group_by(Message.status)).all()
    out = dict.fromkeys(st.ALL, 0)
    out.update({status: n for status, n in rows})
    return out


def complete_finished(engine: Engine) -> list[int]:
    """Running campaigns with no message left in flight are completed."""
    in_flight = exists().where(and_(Message.campaign_id == Campaign.id, Message.status.in_(st.IN_FLIGHT)))
    with engine.begin() as conn:
        done = conn.execute(select(Campaign.id).where(
            Campaign.status == st.CAMPAIGN_RUNNING, ~in_flight)).scalars().all()
        for campaign_id in done:
            conn.execute(update(campaigns).where(Campaign.id == campaign_id).values(
                status=st.CAMPAIGN_COMPLETED, completed_at=func.now()))
            record_one(conn, "campaign_completed", campaign_id, **counts(conn, campaign_id))
    return list(done)


def summary(conn: Connection, campaign_id: int) -> dict[str, Any] | None:
    c = conn.execute(select(campaigns).where(Campaign.id == campaign_id)).first()
    if c is None:
        return None
    return {"id": c.id, "name": c.name, "status": c.status, "sender_id": c.sender_id,
            "audience_size": c.audience_size, "set_aside": c.set_aside,
            "launched_at": c.launched_at.isoformat() if c.launched_at else None,
            "completed_at": c.completed_at.isoformat() if c.completed_at else None,
            "counts": counts(conn, campaign_id),
            "cost": {currency: str(total) for currency, total in campaign_cost(conn, campaign_id).items()}}
