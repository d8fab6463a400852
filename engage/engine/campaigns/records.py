"""Creating a campaign, changing or deleting it while it is a draft, and knowing where it and every
one of its messages stands."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, delete, distinct, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from engage.engine import statuses as st
from engage.engine.audit import audit
from engage.engine.campaigns.checks import checked
from engage.engine.campaigns.errors import CampaignError
from engage.engine.campaigns.rules import OPTIONS
from engage.engine.costs import campaign_cost
from engage.engine.store.schema import Campaign, CampaignRun, Event, Message

campaigns = Campaign.__table__
FIELDS = ("name", "segment_id", "template_id", "sender_id")  # what every campaign is given; OPTIONS may follow


class NotADraft(CampaignError):
    """The campaign has left the draft state, so it can no longer be changed or deleted."""


def create(conn: Connection, *, name: str, segment_id: int, template_id: int, sender_id: str,
           actor: str, branch: str | None = None, creation_key: str | None = None, now: datetime | None = None,
           **options: Any) -> int:
    """A draft. ``branch`` set: a branch user's campaign, which reaches only that branch's
    subscribers and may use only that branch's segments and templates or shared ones. ``options``: the sending
    rules of campaigns.rules (schedule, local_time, quiet_hours, cap, arms, ...). ``creation_key``: the
    wizard's; the same creator giving it again gets their campaign of that key (created_with), not a second
    one. ``now``: what "in the past" is measured from (a schedule must leave time to send)."""
    values = checked(conn, {"name": name, "segment_id": segment_id, "template_id": template_id,
                            "sender_id": sender_id}, options, template_id=template_id, branch=branch, now=now)
    campaign_id = conn.execute(insert(campaigns).values(
        branch=branch, status=st.CAMPAIGN_DRAFT, created_by=actor, set_aside={}, creation_key=creation_key,
        **values)).inserted_primary_key[0]
    audit(conn, actor, "campaign.create", "campaign", campaign_id,
          **{k: v for k, v in values.items() if k not in ("segment_id", "template_id", "sender_id")})
    return campaign_id


def locked(conn: Connection, campaign_id: int) -> Any:
    """The campaign's row, locked (PostgreSQL) until the transaction ends, so that two people's
    moves of one campaign happen one after the other; CampaignError if there is none."""
    query = select(campaigns).where(Campaign.id == campaign_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise CampaignError(f"campaign {campaign_id} does not exist")
    return row


def editable(conn: Connection, campaign_id: int, *, doing: str = "changed") -> Any:
    """The campaign's row, locked (PostgreSQL) for the change to come, if it is still a draft; else
    NotADraft saying what to do instead. Only a draft can be ``doing`` (changed, deleted): once
    submitted, an approver agrees to what it is, and once scheduled, runs and messages are made from it."""
    row = locked(conn, campaign_id)
    if row.status != st.CAMPAIGN_DRAFT:
        if row.status == st.CAMPAIGN_AWAITING_APPROVAL:
            instead = "an approver can reject it back to draft first"
        elif row.status in st.CAMPAIGN_ENDED:
            instead = "its history is kept" + ("; make a new draft" if doing == "changed" else "")
        else:
            instead = "cancel it and make a new draft" if doing == "changed" else "cancel it instead"
        raise NotADraft(f"campaign {campaign_id} is {row.status}: only a draft can be {doing}; {instead}")
    return row


def created_with(conn: Connection, actor: str, creation_key: str) -> int | None:
    """The campaign ``actor`` created with this wizard key, if any."""
    return conn.execute(select(Campaign.id).where(Campaign.created_by == actor,
                                                  Campaign.creation_key == creation_key)).scalar()


def create_once(db: Engine, *, creation_key: str | None, actor: str, **fields: Any) -> tuple[int, bool]:
    """``create`` in a transaction of its own, once per wizard form: (campaign id, whether it is new). The
    creator's campaign of this ``creation_key`` when there is one (Back then Create, a second click; two
    at the same moment meet at the unique index, and the second is given the first's)."""
    if creation_key:
        with db.connect() as conn:
            made = created_with(conn, actor, creation_key)
        if made is not None:
            return made, False
    try:
        with db.begin() as conn:
            return create(conn, actor=actor, creation_key=creation_key, **fields), True
    except IntegrityError:
        with db.connect() as conn:
            made = created_with(conn, actor, creation_key or "")
        if made is None:
            raise
        return made, False


def known_fields(fields: Any) -> None:
    """Refuse a name that is neither a field nor an option, before anything is looked up."""
    unknown = sorted(set(fields) - set(FIELDS) - set(OPTIONS))
    if unknown:
        raise CampaignError(f"{unknown[0]}: not a campaign field (fields: {', '.join(FIELDS + OPTIONS)})")


def update_draft(conn: Connection, campaign_id: int, *, actor: str, now: datetime | None = None,
                 **fields: Any) -> dict[str, dict[str, Any]]:
    """Change a draft: ``fields`` are any of FIELDS and the options of campaigns.rules; those not given
    keep their value, an option given as None goes back to its default. The result is checked as a
    new campaign would be (the options all together: arms against the template, a schedule in the
    time zone) and stays within the campaign's branch. Returns what changed, {field: {before,
    after}}, which is also what the audit log keeps; nothing changed, nothing is written."""
    row = editable(conn, campaign_id)
    known_fields(fields)
    options = {k: getattr(row, k) for k in OPTIONS if getattr(row, k) is not None}
    options.update({k: v for k, v in fields.items() if k in OPTIONS})
    options = {k: v for k, v in options.items() if v is not None}
    given = {k: v for k, v in fields.items() if k in FIELDS}
    values = checked(conn, given, options, template_id=given.get("template_id", row.template_id), branch=row.branch,
                     now=now)
    values = {**{k: _default(k) for k in OPTIONS}, **values}
    changes = {k: {"before": getattr(row, k), "after": v} for k, v in values.items() if getattr(row, k) != v}
    if changes:
        conn.execute(update(campaigns).where(Campaign.id == campaign_id).values(
            **{k: change["after"] for k, change in changes.items()}))
        audit(conn, actor, "campaign.update", "campaign", campaign_id, name=values.get("name", row.name),
              changes=changes)
    return changes


def _default(option: str) -> Any:
    """An option's value when none is given: its column's default (kind marketing, seed 1, no control
    group), else None."""
    default = campaigns.c[option].default
    return None if default is None else default.arg


def visible(conn: Connection, campaign_id: int, branch: str | None) -> bool:
    """Whether the campaign exists for someone of ``branch`` (None: every branch)."""
    row = conn.execute(select(Campaign.branch).where(Campaign.id == campaign_id)).first()
    return row is not None and (branch is None or row.branch == branch)


def delete_draft(conn: Connection, campaign_id: int, *, actor: str) -> str:
    """Delete a draft that never ran, as if it had not been made; the audit log keeps what it was.
    A campaign that was ever submitted is history (approved, scheduled, sent) and is cancelled
    instead. Test sends made from the draft are campaigns of their own (kind "test", linked by the
    audit log's campaign.test_send entry only): they keep their messages and stay. Returns its name."""
    row = editable(conn, campaign_id, doing="deleted")
    ran = conn.execute(select(func.count()).select_from(CampaignRun).where(
        CampaignRun.campaign_id == campaign_id)).scalar_one() or conn.execute(
        select(func.count()).select_from(Message).where(Message.campaign_id == campaign_id)).scalar_one()
    if ran:
        raise NotADraft(f"campaign {campaign_id} has run before: its history is kept; cancel it instead")
    conn.execute(delete(campaigns).where(Campaign.id == campaign_id))
    audit(conn, actor, "campaign.delete", "campaign", campaign_id,
          **{k: getattr(row, k) for k in (*FIELDS, *OPTIONS, "branch", "created_by")})
    return row.name


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
    return shaped(c, run_rows, counts(conn, campaign_id), by_arm(conn, campaign_id), campaign_cost(conn, campaign_id),
                  replied(conn, [campaign_id]).get(campaign_id, 0))


def answers(conn: Connection, campaign_id: int) -> dict[str, int]:
    """keyword -> how many MOs answered the campaign with it (an operator's keyword with the
    "answered" step: a poll's YES and NO)."""
    counted: dict[str, int] = {}
    for data in conn.execute(select(Event.data).where(Event.campaign_id == campaign_id,
                                                      Event.kind == "answered")).scalars():
        keyword = (data or {}).get("keyword") or "?"
        counted[keyword] = counted.get(keyword, 0) + 1
    return dict(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))


def replied(conn: Connection, campaign_ids: list[int]) -> dict[int, int]:
    """How many of each campaign's messages were replied to (keywords.handling's `replied` events)."""
    return dict(conn.execute(select(Event.campaign_id, func.count(distinct(Event.message_id))).where(
        Event.campaign_id.in_(campaign_ids), Event.kind == "replied").group_by(Event.campaign_id)).all())


def shaped(c: Any, run_rows: list[Any], status_counts: dict[str, int] | None,
           arms_counts: dict[str, dict[str, int]] | None, cost: dict[str, Decimal] | None,
           replies: int | None) -> dict[str, Any]:
    """A campaign's summary from its row, its runs' rows and its figures (None: not computed, see
    campaigns.overview), the one shape every reader of a campaign gets."""
    return {"id": c.id, "name": c.name, "status": c.status, "kind": c.kind, "sender_id": c.sender_id,
            "schedule": c.schedule, "local_time": c.local_time, "quiet_hours": c.quiet_hours,
            "max_rate": c.max_rate, "cap": c.cap, "control_share": c.control_share, "arms": c.arms,
            "audience_size": c.audience_size, "set_aside": c.set_aside, "next_run_at": _iso(c.next_run_at),
            "created_by": c.created_by, "approved_by": c.approved_by,
            "launched_at": _iso(c.launched_at), "completed_at": _iso(c.completed_at),
            "counts": status_counts, "arms_counts": arms_counts, "replied": replies,
            "runs": [{"id": r.id, "scheduled_for": _iso(r.scheduled_for), "status": r.status,
                      "audience_size": r.audience_size, "set_aside": r.set_aside, "note": r.note}
                     for r in run_rows],
            "cost": None if cost is None else {currency: str(total) for currency, total in cost.items()}}


def launch(engine: Engine, campaign_id: int, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
    """Send a draft now, the way the command line and the bench do: approval where required, then
    a run scheduled for this moment. The scheduler does the same for scheduled campaigns."""
    from engage.engine.campaigns import lifecycle

    return lifecycle.send_now(engine, campaign_id, actor=actor, now=now)
