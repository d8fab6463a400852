"""Launching a run: the campaign's audience frozen into messages by one INSERT ... SELECT.

Everyone the segment selects in the campaign's branch is written once, except the opted out and
the frequency-capped, who are counted by reason (never silently dropped). Within the same
statement each recipient gets, from a reproducible hash of the campaign's seed and their id, a
place in the control group (recorded with status `control`, never sent) and an A/B arm; and a
send time: the run's time, or the run's day at `local_time` in the recipient's own zone, moved
past quiet hours. Those not due yet are `held` until then. Per-zone times are computed in Python
(a few zones, not a million rows) and written into the SQL as a CASE over the zone.

Only what was approved is sent: a campaign whose content differs from its submission's
(campaigns.submitted_content), or whose audience grew past what was agreed to, launches nothing
and goes back to awaiting approval. A run launches only a campaign that is still scheduled (never a
cancelled, paused, ended or sent back one), its row locked for the run's transaction; a send-back happens
only from the state the run found, so a campaign cancelled meanwhile stays cancelled.

A run is unique per (campaign, scheduled time): a second launcher racing for the same run hits
the constraint and backs off, so a run is launched exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    and_,
    case,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from engage import config
from engage.engine import statuses as st
from engage.engine.audit import audit
from engage.engine.campaigns import submitted_content
from engage.engine.campaigns.records import locked
from engage.engine.events import record_one
from engage.engine.scheduler.local_time import local_instant, run_day
from engage.engine.scheduler.quiet_hours import parse_quiet_hours
from engage.engine.segments.audience import condition, opt_out_join, snapshot, tune
from engage.engine.store.schema import Campaign, CampaignRun, Message, OptOut, Segment, Subscriber
from engage.engine.users.scope import Scope

messages, runs = Message.__table__, CampaignRun.__table__
BUCKETS = 10_000
_PRIME, _MULT = 1_000_003, 2_654_435_761
# the scheduler and send_now launch scheduled campaigns; called directly, a draft or a running one's next run
LAUNCHABLE = (st.CAMPAIGN_SCHEDULED, st.CAMPAIGN_DRAFT, st.CAMPAIGN_RUNNING)
COUNTED = (st.HELD, st.PENDING, st.QUEUED, st.SENDING, st.SUBMITTED, st.DELIVERED, st.UNDELIVERED, st.UNCONFIRMED)


def bucket(seed: int, salt: int) -> Any:
    """A subscriber's place in 0..9999 for this seed: the same on every database and every run."""
    return ((Subscriber.id * _MULT + (seed * 40_503 + salt)) % _PRIME) % BUCKETS


def launch_run(engine: Engine, campaign_id: int, scheduled_for: datetime, *, actor: str,
               now: datetime | None = None, note: str | None = None) -> dict[str, Any] | None:
    """Freeze the audience of the run scheduled for `scheduled_for`; None when that run exists
    already (another launcher got there first); {"campaign_id", "sent_back": [parts], "why"} when the
    campaign changed since it was submitted (content, or an audience grown past what was agreed to)
    and went back to awaiting approval instead; {"campaign_id", "not_launched": why} when it is no
    longer scheduled (cancelled, paused, sent back meanwhile)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    for attempt in (1, 2):
        try:
            with snapshot(engine) as conn:
                tune(conn)
                return _launch(conn, campaign_id, scheduled_for.astimezone(UTC), actor=actor, now=now, note=note)
        except IntegrityError:
            return None
        except OperationalError as exc:  # moved by someone after the run's snapshot began: look again
            if attempt == 2 or getattr(exc.orig, "sqlstate", None) != "40001":
                raise
        except _NotScheduled as exc:
            return None if exc.ran else {"campaign_id": campaign_id, "not_launched": str(exc)}
        except _Changed as exc:
            with engine.begin() as conn:
                if not submitted_content.send_back(conn, exc.campaign, exc.parts, actor=actor, why=exc.why,
                                                   reachable=exc.reachable):
                    status = locked(conn, campaign_id).status
                    return {"campaign_id": campaign_id, "not_launched": f"campaign is {status}"}
            return {"campaign_id": campaign_id, "sent_back": exc.parts, **({"why": exc.why} if exc.why else {})}
    raise AssertionError("unreachable")


class _Changed(Exception):
    """The campaign (the row as the run found it) differs from its submission in ``parts``: the run's
    transaction is undone. ``why`` and ``reachable``: when its audience grew."""

    def __init__(self, campaign: Any, parts: list[str], why: str | None = None, reachable: int | None = None):
        super().__init__(why or ", ".join(parts))
        self.campaign, self.parts, self.why, self.reachable = campaign, parts, why, reachable


class _NotScheduled(Exception):
    """The campaign is no longer scheduled: the run launches nothing. ``ran``: this very run was
    launched already (by another launcher)."""

    def __init__(self, why: str, *, ran: bool):
        super().__init__(why)
        self.ran = ran


def _launch(conn: Connection, campaign_id: int, scheduled_for: datetime, *, actor: str, now: datetime,
            note: str | None) -> dict[str, Any]:
    campaign = locked(conn, campaign_id)
    if campaign.status not in LAUNCHABLE:
        ran = conn.execute(select(CampaignRun.id).where(
            CampaignRun.campaign_id == campaign_id, CampaignRun.scheduled_for == scheduled_for)).first()
        raise _NotScheduled(f"campaign is {campaign.status}", ran=ran is not None)
    parts = submitted_content.changed(conn, campaign)
    if parts:
        raise _Changed(campaign, parts)
    definition = conn.execute(select(Segment.definition).where(Segment.id == campaign.segment_id)).scalar_one()
    settings = config.load()
    expires = now + timedelta(minutes=campaign.deadline_minutes) if campaign.deadline_minutes else None
    run_id = conn.execute(insert(runs).values(
        campaign_id=campaign_id, scheduled_for=scheduled_for, status=st.RUN_RUNNING, started_at=now,
        expires_at=expires, note=note)).inserted_primary_key[0]
    where = condition(conn, definition, Scope(branch=campaign.branch, show_numbers=True), now)
    joined = Subscriber.__table__.outerjoin(OptOut.__table__, opt_out_join("sms"))
    reachable = and_(where, OptOut.msisdn.is_(None))
    capped = _capped(campaign, settings, now)
    eligible = and_(reachable, *(Subscriber.id.not_in(c) for c in capped))
    set_aside = {"opted_out": conn.execute(select(func.count()).select_from(joined).where(
        where, OptOut.msisdn.is_not(None))).scalar_one()}
    if capped:
        set_aside["capped"] = conn.execute(select(func.count()).select_from(joined).where(
            reachable, ~and_(*(Subscriber.id.not_in(c) for c in capped)))).scalar_one()
    send_at, status = _timing(conn, campaign, joined, eligible, scheduled_for, now, settings.default_timezone)
    control = bucket(campaign.seed, 0) < int(round(campaign.control_share * BUCKETS))
    rows = select(literal(campaign_id), literal(run_id), Subscriber.id, Subscriber.msisdn,
                  case((control, literal(st.CONTROL)), else_=status), arm_of(campaign), send_at
                  ).select_from(joined).where(eligible)
    # SQLAlchemy reports an INSERT's row count only when asked to; counting afterwards took 2 s at 1M
    inserted = conn.execute(insert(messages).from_select(
        ["campaign_id", "run_id", "subscriber_id", "msisdn", "status", "arm", "not_before"], rows)
        .execution_options(preserve_rowcount=True)).rowcount
    if inserted is None or inserted < 0:
        inserted = conn.execute(select(func.count()).where(Message.run_id == run_id)).scalar_one()
    held_out = conn.execute(select(func.count()).where(
        Message.campaign_id == campaign_id, Message.status == st.CONTROL, Message.run_id == run_id)).scalar_one()
    if campaign.control_share:
        set_aside["control"] = held_out
    recipients = inserted - held_out
    reachable = inserted + set_aside.get("capped", 0)  # as counted at submission: before caps and control group
    grew = submitted_content.grown(campaign, reachable, settings)
    if grew:
        raise _Changed(campaign, ["audience"], grew, reachable)
    conn.execute(update(runs).where(CampaignRun.id == run_id).values(audience_size=recipients, set_aside=set_aside))
    conn.execute(update(Campaign.__table__).where(Campaign.id == campaign_id).values(
        status=st.CAMPAIGN_RUNNING, audience_size=recipients, set_aside=set_aside, launched_at=now, next_run_at=None))
    audit(conn, actor, "campaign.launch", "campaign", campaign_id, run=run_id, recipients=recipients, **set_aside)
    record_one(conn, "campaign_launched", campaign_id, run=run_id, recipients=recipients, **set_aside)
    return {"campaign_id": campaign_id, "run_id": run_id, "recipients": recipients, "set_aside": set_aside}


def _capped(campaign: Any, settings: config.Settings, now: datetime) -> list[Any]:
    """Subqueries of subscribers already at a frequency cap: the global one (marketing only) over
    every marketing campaign, and the campaign's own over its earlier runs. Messages count from
    when they were sent, or are due to be (held and pending ones count: overlapping campaigns)."""
    when = func.coalesce(Message.submitted_at, Message.queued_at, Message.created_at)
    counted = Message.status.in_(COUNTED)
    out = []
    limit = parse_cap(settings.frequency_cap)
    if limit and campaign.kind == "marketing":
        count, days = limit
        out.append(select(Message.subscriber_id).join(Campaign, Campaign.id == Message.campaign_id).where(
            Campaign.kind == "marketing", counted, when >= now - timedelta(days=days))
            .group_by(Message.subscriber_id).having(func.count() >= count))
    if campaign.cap:
        out.append(select(Message.subscriber_id).where(
            Message.campaign_id == campaign.id, counted, when >= now - timedelta(days=campaign.cap["days"]))
            .group_by(Message.subscriber_id).having(func.count() >= campaign.cap["count"]))
    return out


def parse_cap(text: str) -> tuple[int, int] | None:
    """ "3/7" -> (3, 7): at most 3 messages per 7 days; "" -> None."""
    if not text:
        return None
    count, _, days = text.partition("/")
    try:
        out = int(count), int(days)
    except ValueError:
        raise ValueError(f"ENGAGE_FREQUENCY_CAP: {text!r} is not COUNT/DAYS, like 3/7") from None
    if out[0] < 1 or out[1] < 1:
        raise ValueError(f"ENGAGE_FREQUENCY_CAP: {text!r} needs a count and days of at least 1")
    return out


def arm_of(campaign: Any) -> Any:
    """The SQL expression of a subscriber's A/B arm, by hash of the campaign's seed: the launch and the
    cost estimate use this one so that both split the audience alike."""
    arms = campaign.arms or [{"arm": "A", "share": 100}]
    if len(arms) == 1:
        return literal(arms[0]["arm"])
    b, upto, whens = bucket(campaign.seed, 7919), 0.0, []
    for arm in arms[:-1]:
        upto += arm["share"] * BUCKETS / 100
        whens.append((b < int(round(upto)), literal(arm["arm"])))
    return case(*whens, else_=literal(arms[-1]["arm"]))


def _timing(conn: Connection, campaign: Any, joined: Any, eligible: Any, scheduled_for: datetime, now: datetime,
            default_zone: str) -> tuple[Any, Any]:
    """(not_before, status) expressions: per recipient zone when the campaign sends at a local time
    or keeps quiet hours, else the run's moment for all."""
    quiet = parse_quiet_hours(campaign.quiet_hours) if campaign.quiet_hours else None
    zone = campaign.timezone or default_zone
    if not campaign.local_time and quiet is None:
        return literal(now, DateTime(timezone=True)), literal(st.PENDING)
    zones = [z for (z,) in conn.execute(select(Subscriber.timezone).distinct().select_from(joined).where(eligible))]
    day = run_day(scheduled_for, zone)
    wall = time.fromisoformat(campaign.local_time) if campaign.local_time else None

    def due(tz: str | None) -> datetime:
        moment = local_instant(day, wall, tz or zone, default=zone) if wall else now
        moment = max(moment, now)
        return quiet.next_allowed(moment, tz, zone) if quiet else moment

    times = {z: due(z) for z in zones if z}
    fallback = due(None)

    def by_zone(value: Any, otherwise: Any) -> Any:
        return case(*((Subscriber.timezone == z, value(t)) for z, t in times.items()), else_=otherwise) \
            if times else otherwise

    def moment(t: datetime) -> Any:
        return literal(t, DateTime(timezone=True))

    def status(t: datetime) -> Any:
        return literal(st.HELD if t > now else st.PENDING)

    return by_zone(moment, moment(fallback)), by_zone(status, status(fallback))
