"""A campaign's states and who may move it between them. Every move is audited with who and when.

    draft --submit--> awaiting_approval --approve--> scheduled --(scheduler: a run is due)--> running
      ^                      |reject                    ^                                     |  ^
      +----------------------+                          +---- (run done, more to come) -------+  |
    running --pause--> paused --resume--> running         (run done, no more) --> completed      |
    draft, awaiting_approval, scheduled, running, paused --cancel--> cancelled

Maker-checker: a campaign whose reachable audience is above ENGAGE_APPROVAL_ABOVE, or made by a role
in ENGAGE_APPROVAL_ROLES (default: marketer), waits for a second person; the maker cannot approve
their own campaign.
What an approver approved is what is sent. Submitting records the campaign's content (template
variants, segment definitions with the segments they include, sender, schedule and rules:
campaigns.submitted_content); from then until it ends or goes back to draft nothing of it changes:
the campaign itself is edited only as a draft, and its template and segment refuse edits (409
naming the campaign) while it awaits approval, is scheduled, runs or is paused. Approval is
refused when the content differs from the submission, and a run that finds it different at launch
sends nothing: the campaign goes back to awaiting approval (audited as campaign.sent_back, with
what changed), and what it is now is what the next approver approves.
The audience is agreed to as well: the submission records the reachable audience the approver is
shown. A run that freezes more than ENGAGE_APPROVAL_TOLERANCE (default 10%) over it (an import or a
partner's upsert retagged subscribers into the segment) sends nothing and goes back the same way,
audited with "its audience grew from N to M"; so does a run of a campaign that needed no approval
whose audience now passes ENGAGE_APPROVAL_ABOVE. A recurring campaign's every run is compared with
the approved audience. A send-back happens only from the state the run found: a campaign cancelled
meanwhile stays cancelled.
Pausing takes back what no sender holds yet (queued -> pending), so nothing is sent twice on
resume; what a sender already holds finishes within seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from engage import config
from engage.engine import statuses as st
from engage.engine.audit import audit
from engage.engine.campaigns import submitted_content
from engage.engine.campaigns.launching import launch_run
from engage.engine.campaigns.records import CampaignError, locked
from engage.engine.events import record_batches
from engage.engine.scheduler.schedule import parse_schedule
from engage.engine.segments import audience
from engage.engine.segments.errors import SegmentError
from engage.engine.store.schema import Campaign, CampaignRun, Message, Segment
from engage.engine.users.scope import Scope

_NOT_COUNTED = object()

campaigns, messages, runs = Campaign.__table__, Message.__table__, CampaignRun.__table__


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _row(conn: Connection, campaign_id: int, *allowed: str, action: str) -> Any:
    c = locked(conn, campaign_id)
    if c.status not in allowed:
        raise CampaignError(f"campaign {campaign_id} is {c.status}; {action} needs it {' or '.join(allowed)}")
    return c


def _move(conn: Connection, c: Any, status: str, actor: str, action: str, **values: Any) -> None:
    conn.execute(update(campaigns).where(Campaign.id == c.id).values(status=status, **values))
    audit(conn, actor, f"campaign.{action}", "campaign", c.id, **{"from": c.status, "to": status})


def approval_needed(conn: Connection, c: Any, role: str | None,
                    counted: Any = _NOT_COUNTED) -> str | None:
    """Why this campaign needs a second person's approval, or None. ``counted``: its
    submitted_content.reachable_now when the caller has it already."""
    settings = config.load()
    if role and role in {r.strip() for r in settings.approval_roles.split(",")}:
        return f"campaigns made by a {role} are approved by a second person"
    above = settings.approval_above
    if above:
        reachable, problem = submitted_content.reachable_now(conn, c) if counted is _NOT_COUNTED else counted
        if reachable is None:  # too slow to count, or no longer compiling: a person looks at it
            return f"its audience could not be counted to compare with {above} ({problem})"
        if reachable > above:
            return f"its audience of {reachable} is above {above}"
    return None


def check_audience(conn: Connection, c: Any) -> None:
    """CampaignError, before anything moves, when the campaign's segment no longer compiles (saved before
    a limit existed, or including a segment it may no longer see): the campaign stays as it was, and
    the refusal says why."""
    definition = conn.execute(select(Segment.definition).where(Segment.id == c.segment_id)).scalar_one()
    try:
        audience.condition(conn, definition, Scope(branch=c.branch, show_numbers=True))
    except SegmentError as exc:
        raise CampaignError(f"campaign {c.id}: its segment {c.segment_id} cannot be used: {exc}") from None


def first_run(c: Any, now: datetime) -> datetime:
    """When a submitted campaign first runs: now, or its schedule's first time from now."""
    if not c.schedule:
        return now
    schedule = parse_schedule(c.schedule, default_timezone=c.timezone or config.load().default_timezone)
    first = schedule.first(now)
    if first is None:
        raise CampaignError(f"campaign {c.id}: its schedule has no time left after {now.isoformat()}")
    return first


def submit(conn: Connection, campaign_id: int, *, actor: str, role: str | None = None,
           now: datetime | None = None) -> str:
    """Draft -> awaiting_approval, or straight to scheduled when no approval is needed."""
    now = _now(now)
    c = _row(conn, campaign_id, st.CAMPAIGN_DRAFT, action="submit")
    check_audience(conn, c)
    counted = submitted_content.reachable_now(conn, c)
    why = approval_needed(conn, c, role, counted)
    values = {"submitted_by": actor, "submitted_at": now,
              "submitted_content": submitted_content.submission(conn, c, counted[0])}
    if why:
        _move(conn, c, st.CAMPAIGN_AWAITING_APPROVAL, actor, "submit", **values)
        audit(conn, actor, "campaign.approval_required", "campaign", c.id, why=why)
        return st.CAMPAIGN_AWAITING_APPROVAL
    _move(conn, c, st.CAMPAIGN_SCHEDULED, actor, "submit", next_run_at=first_run(c, now), **values)
    return st.CAMPAIGN_SCHEDULED


def approve(conn: Connection, campaign_id: int, *, actor: str, now: datetime | None = None) -> None:
    """A second person's approval: never the campaign's maker or submitter."""
    now = _now(now)
    c = _row(conn, campaign_id, st.CAMPAIGN_AWAITING_APPROVAL, action="approve")
    if actor in {c.created_by, c.submitted_by}:
        raise CampaignError(f"campaign {campaign_id}: {actor} made or submitted it; another person must approve")
    differs = submitted_content.changed(conn, c)
    if differs:
        raise CampaignError(f"campaign {campaign_id} changed since it was submitted ({', '.join(differs)}): "
                            f"reject it back to draft, so that what is approved is what is seen")
    _move(conn, c, st.CAMPAIGN_SCHEDULED, actor, "approve", approved_by=actor, approved_at=now,
          next_run_at=first_run(c, now))


def reject(conn: Connection, campaign_id: int, *, actor: str, reason: str) -> None:
    c = _row(conn, campaign_id, st.CAMPAIGN_AWAITING_APPROVAL, action="reject")
    if not reason.strip():
        raise CampaignError("a rejection needs a reason")
    _move(conn, c, st.CAMPAIGN_DRAFT, actor, "reject", submitted_by=None, submitted_at=None)
    audit(conn, actor, "campaign.rejected", "campaign", c.id, reason=reason)


def pause(engine: Engine, campaign_id: int, *, actor: str) -> int:
    """Stops sending within seconds; returns how many queued messages were taken back."""
    with engine.begin() as conn:
        c = _row(conn, campaign_id, st.CAMPAIGN_RUNNING, action="pause")
        _move(conn, c, st.CAMPAIGN_PAUSED, actor, "pause")
        return conn.execute(update(messages).where(
            Message.campaign_id == campaign_id, Message.status == st.QUEUED).values(
            status=st.PENDING, provider_id=None)).rowcount


def resume(conn: Connection, campaign_id: int, *, actor: str) -> None:
    c = _row(conn, campaign_id, st.CAMPAIGN_PAUSED, action="resume")
    _move(conn, c, st.CAMPAIGN_RUNNING, actor, "resume")


def cancel(engine: Engine, campaign_id: int, *, actor: str) -> int:
    """Whatever is not with a sender yet is cancelled; returns how many messages."""
    with engine.begin() as conn:
        c = _row(conn, campaign_id, st.CAMPAIGN_DRAFT, st.CAMPAIGN_AWAITING_APPROVAL, st.CAMPAIGN_SCHEDULED,
                 st.CAMPAIGN_RUNNING, st.CAMPAIGN_PAUSED, action="cancel")
        _move(conn, c, st.CAMPAIGN_CANCELLED, actor, "cancel", next_run_at=None, completed_at=func.now())
        conn.execute(update(runs).where(CampaignRun.campaign_id == campaign_id,
                                        CampaignRun.status == st.RUN_RUNNING).values(
            status=st.RUN_CANCELLED, completed_at=func.now()))
        ids = conn.execute(update(messages).where(
            Message.campaign_id == campaign_id, Message.status.in_(st.UNSENT)).values(
            status=st.CANCELLED, done_at=func.now()).returning(Message.id)).scalars().all()
        record_batches(conn, st.CANCELLED, campaign_id, ids)
        return len(ids)


def send_now(engine: Engine, campaign_id: int, *, actor: str, role: str | None = None,
             now: datetime | None = None) -> dict[str, Any]:
    """A draft sent at once (the command line's `campaign launch`), or a scheduled campaign's run
    started early. Approval rules apply as for submit."""
    now = _now(now)
    with engine.begin() as conn:
        c = _row(conn, campaign_id, st.CAMPAIGN_DRAFT, st.CAMPAIGN_SCHEDULED, action="launch")
        check_audience(conn, c)
        if c.status == st.CAMPAIGN_DRAFT:
            why = approval_needed(conn, c, role)
            if why:
                raise CampaignError(f"campaign {campaign_id} needs approval first: {why}; submit it")
            _move(conn, c, st.CAMPAIGN_SCHEDULED, actor, "submit", submitted_by=actor, submitted_at=now,
                  submitted_content=submitted_content.submission(conn, c, None))
    launched = launch_run(engine, campaign_id, now, actor=actor, now=now)
    if launched is None:
        raise CampaignError(f"campaign {campaign_id}: a run for {now.isoformat()} exists already")
    if "not_launched" in launched:
        raise CampaignError(f"campaign {campaign_id}: nothing was sent: {launched['not_launched']}")
    if "sent_back" in launched:
        why = launched.get("why") or ", ".join(launched["sent_back"])
        raise CampaignError(f"campaign {campaign_id} changed since it was approved ({why})"
                            f": nothing was sent, it is back awaiting approval")
    return launched


ACTIONS = ("submit", "approve", "reject", "launch", "pause", "resume", "cancel")


def perform(engine: Engine, campaign_id: int, action: str, *, actor: str, role: str | None = None,
            reason: str = "") -> dict[str, Any]:
    """One of ACTIONS by name, each in its own transaction, for the command line, the pages and the API:
    submit gives {"status": ...}, pause and cancel {"messages": n}, launch the launched run, others {}."""
    if action not in ACTIONS:
        raise CampaignError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if action == "launch":
        return send_now(engine, campaign_id, actor=actor, role=role)
    if action in ("pause", "cancel"):
        return {"messages": (pause if action == "pause" else cancel)(engine, campaign_id, actor=actor)}
    with engine.begin() as conn:
        if action == "submit":
            return {"status": submit(conn, campaign_id, actor=actor, role=role)}
        if action == "reject":
            reject(conn, campaign_id, actor=actor, reason=reason)
        else:
            (approve if action == "approve" else resume)(conn, campaign_id, actor=actor)
    return {}
