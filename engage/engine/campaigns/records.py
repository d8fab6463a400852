"""Creating a campaign, and knowing where it and every one of its messages stands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from engage import config
from engage.engine import statuses as st
from engage.engine.audit import audit
from engage.engine.campaigns.rules import RuleError, check
from engage.engine.costs import campaign_cost
from engage.engine.sender_ids import SenderIdError, parse_sender
from engage.engine.store.schema import Campaign, CampaignRun, Message, Segment, Template
from engage.engine.templates.store import TemplateSet

campaigns = Campaign.__table__


class CampaignError(ValueError):
    pass


def create(conn: Connection, *, name: str, segment_id: int, template_id: int, sender_id: str,
           actor: str, branch: str | None = None, **options: Any) -> int:
    """A draft. ``branch`` set: a branch user's campaign, which reaches only that branch's
    subscribers and may use only that branch's segments or shared ones. ``options``: the sending
    rules of campaigns.rules (schedule, local_time, quiet_hours, cap, arms, ...)."""
    segment = conn.execute(select(Segment.id, Segment.branch).where(Segment.id == segment_id)).first()
    if segment is None:
        raise CampaignError(f"segment {segment_id} does not exist")
    if branch is not None and segment.branch not in (None, branch):
        raise CampaignError(f"segment {segment_id} belongs to another branch")
    if not conn.execute(select(Template.id).where(Template.id == template_id)).first():
        raise CampaignError(f"template {template_id} does not exist")
    settings = config.load()
    try:
        sender = parse_sender(sender_id or "", region=settings.default_region)
        values = check(options, default_timezone=settings.default_timezone)
    except (SenderIdError, RuleError) as exc:
        raise CampaignError(str(exc)) from None
    missing = sorted({a["arm"] for a in values.get("arms") or []} - set(TemplateSet(conn, template_id).arms))
    if missing:
        raise CampaignError(f"arms: template {template_id} has no variant for arm {missing[0]!r}")
    campaign_id = conn.execute(insert(campaigns).values(
        name=name, segment_id=segment_id, template_id=template_id, sender_id=sender.value, branch=branch,
        status=st.CAMPAIGN_DRAFT, created_by=actor, set_aside={}, **values)).inserted_primary_key[0]
    audit(conn, actor, "campaign.create", "campaign", campaign_id, name=name, **values)
    return campaign_id


def counts(conn: Connection, campaign_id: int, run_id: int | None = None) -> dict[str, int]:
    query = select(Message.status, func.count()).where(Message.campaign_id == campaign_id)
    if run_id is not None:
        query = query.where(Message.run_id == run_id)
    out = dict.fromkeys(st.ALL, 0)
    out.update({status: n for status, n in conn.execute(query.group_by(Message.status)).all()})
    return out


def by_arm(conn: Connection, campaign_id: int) -> dict[str, dict[str, int]]:
    """Statuses per A/B arm (the control group under its arm too): the figures an A/B test reads."""
    out: dict[str, dict[str, int]] = {}
    for arm, status, n in conn.execute(select(Message.arm, Message.status, func.count()).where(
            Message.campaign_id == campaign_id).group_by(Message.arm, Message.status)).all():
        out.setdefault(arm or "A", {})[status] = n
    return out


def _iso(moment: datetime | None) -> str | None:
    """Stored times are UTC; SQLite hands them back without the zone."""
    if moment is None:
        return None
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).isoformat()


def summary(conn: Connection, campaign_id: int) -> dict[str, Any] | None:
    c = conn.execute(select(campaigns).where(Campaign.id == campaign_id)).first()
    if c is None:
        return None
    run_rows = conn.execute(select(CampaignRun.__table__).where(CampaignRun.campaign_id == campaign_id)
                            .order_by(CampaignRun.scheduled_for)).all()
    return {"id": c.id, "name": c.name, "status": c.status, "kind": c.kind, "sender_id": c.sender_id,
            "schedule": c.schedule, "local_time": c.local_time, "quiet_hours": c.quiet_hours,
            "max_rate": c.max_rate, "cap": c.cap, "control_share": c.control_share, "arms": c.arms,
            "audience_size": c.audience_size, "set_aside": c.set_aside, "next_run_at": _iso(c.next_run_at),
            "created_by": c.created_by, "approved_by": c.approved_by,
            "launched_at": _iso(c.launched_at), "completed_at": _iso(c.completed_at),
            "counts": counts(conn, campaign_id), "arms_counts": by_arm(conn, campaign_id),
            "runs": [{"id": r.id, "scheduled_for": _iso(r.scheduled_for), "status": r.status,
                      "audience_size": r.audience_size, "set_aside": r.set_aside, "note": r.note}
                     for r in run_rows],
            "cost": {currency: str(total) for currency, total in campaign_cost(conn, campaign_id).items()}}


def launch(engine: Engine, campaign_id: int, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
    """Send a draft now, the way the command line and the bench do: approval where required, then
    a run scheduled for this moment. The scheduler does the same for scheduled campaigns."""
    from engage.engine.campaigns import lifecycle

    return lifecycle.send_now(engine, campaign_id, actor=actor, now=now)
