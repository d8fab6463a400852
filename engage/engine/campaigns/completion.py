"""The clockwork of running campaigns, driven by the scheduler and the dispatcher: due runs
launched (or skipped, with the reason, when missed by more than the grace), held messages
released when their time comes, what a run's deadline passes expired, finished runs completed
and recurring campaigns set for their next run."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, exists, func, insert, select, update

from engage import config
from engage.engine import statuses as st
from engage.engine.audit import audit
from engage.engine.campaigns.kinds import REPLY_KIND
from engage.engine.campaigns.launching import launch_run
from engage.engine.campaigns.records import counts
from engage.engine.events import record_batches, record_one
from engage.engine.scheduler.missed import decide
from engage.engine.scheduler.schedule import parse_schedule
from engage.engine.store.schema import Campaign, CampaignRun, Message

log = logging.getLogger(__name__)
campaigns, messages, runs = Campaign.__table__, Message.__table__, CampaignRun.__table__
RELEASE_BATCH = 50_000
LATE_NOTE = 60  # s: a run started later than this says so on its record


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def launch_due(engine: Engine, now: datetime | None = None, *, actor: str = "scheduler") -> list[dict[str, Any]]:
    """Every scheduled campaign whose next run is due: launched, or skipped and recorded when it was
    missed by more than ENGAGE_MISSED_RUN_GRACE (no scheduler was up); never silently late."""
    now = _now(now)
    grace = timedelta(seconds=config.load().missed_run_grace)
    with engine.connect() as conn:
        due = conn.execute(select(Campaign.id, Campaign.next_run_at).where(
            Campaign.status == st.CAMPAIGN_SCHEDULED, Campaign.next_run_at <= now)
            .order_by(Campaign.next_run_at)).all()
    out = []
    for campaign_id, at in due:
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        decision = decide(at, now, grace)
        if decision.launch:
            late = int(decision.late_by.total_seconds())
            note = f"started {late} s late: no scheduler was running at its time" if late > LATE_NOTE else None
            try:
                launched = launch_run(engine, campaign_id, at, actor=actor, now=now, note=note)
            except Exception as exc:  # noqa: BLE001 - one campaign's bad segment must not stop the others
                out.append(_fail(engine, campaign_id, at, exc, now))
                continue
            if launched:
                out.append(launched)
        else:
            out.append(_skip(engine, campaign_id, at, decision.reason or "missed", now))
    return out


def _fail(engine: Engine, campaign_id: int, at: datetime, exc: Exception, now: datetime) -> dict[str, Any]:
    """A run that cannot launch (its segment became invalid, its template was deleted...): the run and
    the campaign are failed with the reason, for a person to fix; the scheduler goes on."""
    reason = f"{type(exc).__name__}: {exc}"[:300]
    log.error("campaign %s: run of %s failed to launch: %s", campaign_id, at.isoformat(), reason)
    with engine.begin() as conn:
        exists_already = conn.execute(select(CampaignRun.id).where(
            CampaignRun.campaign_id == campaign_id, CampaignRun.scheduled_for == at)).first()
        if not exists_already:
            conn.execute(insert(runs).values(campaign_id=campaign_id, scheduled_for=at, status=st.RUN_FAILED,
                                             completed_at=now, note=reason))
        conn.execute(update(campaigns).where(Campaign.id == campaign_id).values(
            status=st.CAMPAIGN_FAILED, next_run_at=None, completed_at=now))
        audit(conn, "scheduler", "campaign.failed", "campaign", campaign_id, scheduled_for=at.isoformat(), why=reason)
    return {"campaign_id": campaign_id, "failed": at.isoformat(), "reason": reason}


def _skip(engine: Engine, campaign_id: int, at: datetime, reason: str, now: datetime) -> dict[str, Any]:
    with engine.begin() as conn:
        conn.execute(insert(runs).values(campaign_id=campaign_id, scheduled_for=at, status=st.RUN_SKIPPED,
                                         completed_at=now, note=reason[:300]))
        audit(conn, "scheduler", "campaign.run_skipped", "campaign", campaign_id, scheduled_for=at.isoformat(),
              why=reason)
        _advance(conn, campaign_id, at, now)
    log.warning("campaign %s: run of %s skipped: %s", campaign_id, at.isoformat(), reason)
    return {"campaign_id": campaign_id, "skipped": at.isoformat(), "reason": reason}


def _advance(conn: Any, campaign_id: int, after: datetime, now: datetime) -> str:
    """After a run (done or skipped): the next one scheduled, or the campaign completed."""
    c = conn.execute(select(campaigns).where(Campaign.id == campaign_id)).one()
    nxt = None
    if c.schedule:
        schedule = parse_schedule(c.schedule, default_timezone=c.timezone or config.load().default_timezone)
        if schedule.recurring:
            nxt = schedule.next_after(after)
    if nxt is not None:
        conn.execute(update(campaigns).where(Campaign.id == campaign_id).values(
            status=st.CAMPAIGN_SCHEDULED, next_run_at=nxt))
        audit(conn, "scheduler", "campaign.next_run", "campaign", campaign_id,
              **{"from": c.status, "to": st.CAMPAIGN_SCHEDULED, "next_run_at": nxt.isoformat()})
        return st.CAMPAIGN_SCHEDULED
    conn.execute(update(campaigns).where(Campaign.id == campaign_id).values(
        status=st.CAMPAIGN_COMPLETED, next_run_at=None, completed_at=now))
    audit(conn, "scheduler", "campaign.complete", "campaign", campaign_id,
          **{"from": c.status, "to": st.CAMPAIGN_COMPLETED})
    return st.CAMPAIGN_COMPLETED


def release_held(engine: Engine, now: datetime | None = None) -> int:
    """Held messages whose time has come become pending, for the dispatcher."""
    now = _now(now)
    with engine.begin() as conn:
        ids = select(Message.id).where(Message.status == st.HELD, Message.not_before <= now).limit(RELEASE_BATCH)
        return conn.execute(update(messages).where(Message.id.in_(ids), Message.status == st.HELD).values(
            status=st.PENDING)).rowcount


def expire_overdue(engine: Engine, now: datetime | None = None) -> int:
    """Runs past their deadline: what is still unsent is expired, counted, never sent late."""
    now = _now(now)
    total = 0
    with engine.begin() as conn:
        overdue = conn.execute(select(CampaignRun.id, CampaignRun.campaign_id).where(
            CampaignRun.status == st.RUN_RUNNING, CampaignRun.expires_at <= now)).all()
        for run_id, campaign_id in overdue:
            ids = conn.execute(update(messages).where(
                Message.campaign_id == campaign_id, Message.run_id == run_id, Message.status.in_(st.UNSENT)).values(
                status=st.EXPIRED, error="deadline", done_at=now).returning(Message.id)).scalars().all()
            expired = len(ids)
            if expired:
                record_batches(conn, st.EXPIRED, campaign_id, ids)
                audit(conn, "scheduler", "campaign.deadline", "campaign", campaign_id, run=run_id, expired=expired)
            total += expired
    return total


def complete_finished(engine: Engine, now: datetime | None = None, *,
                      only: Collection[int] | None = None) -> list[int]:
    """Running campaigns with nothing left in flight: their run completed; the campaign scheduled for
    its next run, or completed. `only`: look at these campaigns alone (the dispatcher's drained ones:
    the others have pending messages, and proving it costs a walk of their index while they send)."""
    now = _now(now)
    in_flight = exists().where(and_(Message.campaign_id == Campaign.id, Message.status.in_(st.IN_FLIGHT)))
    running = (Campaign.status == st.CAMPAIGN_RUNNING) & (Campaign.kind != REPLY_KIND)  # replies run for good
    if only is not None:
        if not only:
            return []
        running = running & Campaign.id.in_(list(only))
    with engine.begin() as conn:
        done = conn.execute(select(Campaign.id).where(running, ~in_flight)).scalars().all()
        for campaign_id in done:
            last = conn.execute(select(func.max(CampaignRun.scheduled_for)).where(
                CampaignRun.campaign_id == campaign_id)).scalar()
            conn.execute(update(runs).where(CampaignRun.campaign_id == campaign_id,
                                            CampaignRun.status == st.RUN_RUNNING).values(
                status=st.RUN_COMPLETED, completed_at=now))
            state = _advance(conn, campaign_id, last or now, now)
            if state == st.CAMPAIGN_COMPLETED:
                record_one(conn, "campaign_completed", campaign_id, **counts(conn, campaign_id))
    return list(done)
