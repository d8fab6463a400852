"""A campaign's states: submit, approval by a second person, scheduled runs, pause, resume, cancel;
each move allowed only from the right state and audited with who."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engage.engine import statuses as st
from engage.engine.campaigns import CampaignError, lifecycle
from engage.engine.campaigns.completion import complete_finished, launch_due
from engage.engine.store.schema import AuditEntry, Campaign, Segment
from tests.campaign_setup import add_subscribers, column, make_campaign, recorded, statuses

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def base(engine):
    add_subscribers(engine, 6)
    return engine


def status(engine, campaign_id):
    with engine.connect() as conn:
        return conn.execute(select(Campaign.status).where(Campaign.id == campaign_id)).scalar_one()


def audited(engine, campaign_id):
    with engine.connect() as conn:
        return [(a.actor, a.action) for a in conn.execute(select(AuditEntry.actor, AuditEntry.action).where(
            AuditEntry.object_id == str(campaign_id)).order_by(AuditEntry.id))]


def test_a_submitted_campaign_without_approval_rules_is_scheduled_to_run_now(base):
    campaign_id = make_campaign(base)
    with base.begin() as conn:
        assert lifecycle.submit(conn, campaign_id, actor="maker", now=NOW) == st.CAMPAIGN_SCHEDULED
        assert conn.execute(select(Campaign.next_run_at).where(Campaign.id == campaign_id)).scalar_one() \
            .replace(tzinfo=UTC) == NOW


def test_an_audience_above_the_threshold_waits_for_approval(base, monkeypatch):
    monkeypatch.setenv("ENGAGE_APPROVAL_ABOVE", "5")
    campaign_id = make_campaign(base)
    with base.begin() as conn:
        assert lifecycle.submit(conn, campaign_id, actor="maker", now=NOW) == st.CAMPAIGN_AWAITING_APPROVAL
    assert ("maker", "campaign.approval_required") in audited(base, campaign_id)


def test_a_role_that_needs_approval_waits_whatever_the_audience(base):
    campaign_id = make_campaign(base)
    with base.begin() as conn:
        assert lifecycle.submit(conn, campaign_id, actor="maker", role="marketer") == st.CAMPAIGN_AWAITING_APPROVAL


def test_the_maker_cannot_approve_their_own_campaign(base):
    campaign_id = make_campaign(base, actor="maker")
    with base.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="maker", role="marketer")
    with base.begin() as conn, pytest.raises(CampaignError, match="another person must approve"):
        lifecycle.approve(conn, campaign_id, actor="maker")


def test_a_second_person_approves_and_the_campaign_is_scheduled(base):
    campaign_id = make_campaign(base, actor="maker")
    with base.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="maker", role="marketer")
        lifecycle.approve(conn, campaign_id, actor="checker", now=NOW)
    assert status(base, campaign_id) == st.CAMPAIGN_SCHEDULED
    assert ("checker", "campaign.approve") in audited(base, campaign_id)


def test_a_rejection_sends_the_campaign_back_to_draft_with_the_reason(base):
    campaign_id = make_campaign(base)
    with base.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="maker", role="marketer")
        lifecycle.reject(conn, campaign_id, actor="checker", reason="wrong offer")
    assert status(base, campaign_id) == st.CAMPAIGN_DRAFT


def test_launching_a_campaign_that_needs_approval_is_refused(base, monkeypatch):
    monkeypatch.setenv("ENGAGE_APPROVAL_ABOVE", "2")
    campaign_id = make_campaign(base)
    with pytest.raises(CampaignError, match="needs approval first"):
        lifecycle.send_now(base, campaign_id, actor="maker")


def test_a_move_from_the_wrong_state_is_refused_naming_the_state(base):
    campaign_id = make_campaign(base)
    with pytest.raises(CampaignError, match="is draft; pause needs it running"):
        lifecycle.pause(base, campaign_id, actor="maker")


def test_the_scheduler_launches_a_due_run_once_and_completes_it(base):
    campaign_id = make_campaign(base, schedule={"kind": "at", "at": "2026-12-01T13:00", "timezone": "Asia/Tashkent"},
                                now=NOW - timedelta(hours=1))
    with base.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="maker", now=NOW - timedelta(hours=1))
    assert launch_due(base, NOW - timedelta(minutes=1)) == []  # 13:00 Tashkent is 08:00 UTC
    launched = launch_due(base, NOW)
    assert [run["recipients"] for run in launched] == [6]
    assert launch_due(base, NOW + timedelta(seconds=5)) == []
    assert status(base, campaign_id) == st.CAMPAIGN_RUNNING


def test_pause_takes_queued_messages_back_and_resume_continues(base):
    campaign_id = make_campaign(base)
    lifecycle.send_now(base, campaign_id, actor="maker")
    with base.begin() as conn:
        conn.exec_driver_sql(f"UPDATE messages SET status = 'queued' WHERE campaign_id = {campaign_id}")
    assert lifecycle.pause(base, campaign_id, actor="ops") == 6
    assert statuses(base, campaign_id) == {st.PENDING: 6}
    with base.begin() as conn:
        lifecycle.resume(conn, campaign_id, actor="ops")
    assert status(base, campaign_id) == st.CAMPAIGN_RUNNING


def test_cancel_ends_every_unsent_message_as_cancelled(base):
    campaign_id = make_campaign(base)
    lifecycle.send_now(base, campaign_id, actor="maker")
    assert lifecycle.cancel(base, campaign_id, actor="ops") == 6
    assert statuses(base, campaign_id) == {st.CANCELLED: 6}
    assert status(base, campaign_id) == st.CAMPAIGN_CANCELLED


def test_cancel_records_the_cancelled_messages_as_an_event_naming_them(base):
    campaign_id = make_campaign(base)
    lifecycle.send_now(base, campaign_id, actor="maker")
    lifecycle.cancel(base, campaign_id, actor="ops")
    assert recorded(base, campaign_id, st.CANCELLED) == (6, set(column(base, campaign_id, "id")))


def test_a_recurring_campaign_goes_back_to_scheduled_after_each_run(base):
    campaign_id = make_campaign(base, schedule={"kind": "daily", "time": "13:00", "timezone": "Asia/Tashkent"})
    with base.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="maker", now=NOW - timedelta(hours=1))
    launch_due(base, NOW)
    with base.begin() as conn:
        conn.exec_driver_sql(f"UPDATE messages SET status = 'delivered' WHERE campaign_id = {campaign_id}")
    complete_finished(base, NOW + timedelta(minutes=10))
    with base.connect() as conn:
        row = conn.execute(select(Campaign.status, Campaign.next_run_at).where(Campaign.id == campaign_id)).one()
    assert row.status == st.CAMPAIGN_SCHEDULED
    assert row.next_run_at.replace(tzinfo=UTC) == NOW + timedelta(days=1)


def test_a_run_missed_beyond_the_grace_is_skipped_and_recorded(base):
    campaign_id = make_campaign(base, schedule={"kind": "daily", "time": "13:00", "timezone": "Asia/Tashkent"})
    with base.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="maker", now=NOW - timedelta(hours=1))
    out = launch_due(base, NOW + timedelta(hours=3))
    assert out[0]["reason"].startswith("missed by 3h")
    assert statuses(base, campaign_id) == {}
    assert status(base, campaign_id) == st.CAMPAIGN_SCHEDULED


def test_a_run_a_little_late_is_launched_and_says_so(base):
    campaign_id = make_campaign(base, schedule={"kind": "at", "at": "2026-12-01T13:00", "timezone": "Asia/Tashkent"},
                                now=NOW - timedelta(hours=1))
    with base.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="maker", now=NOW - timedelta(hours=1))
    launched = launch_due(base, NOW + timedelta(minutes=5))
    assert launched[0]["recipients"] == 6


def test_a_run_that_cannot_launch_fails_the_campaign_with_the_reason_and_others_still_launch(base):
    broken = make_campaign(base, name="broken")
    fine = make_campaign(base, name="fine")
    with base.begin() as conn:
        for campaign_id in (broken, fine):
            lifecycle.submit(conn, campaign_id, actor="maker", now=NOW)
        # broken past every check, its submission with it (a restored backup): else it would go back for approval
        segment_id = conn.execute(select(Campaign.segment_id).where(Campaign.id == broken)).scalar_one()
        conn.execute(Segment.__table__.update().where(Segment.id == segment_id).values(
            definition={"field": "nope", "value": 1}))
        submitted = conn.execute(select(Campaign.submitted_content).where(Campaign.id == broken)).scalar_one()
        submitted["segment"]["definition"] = {"field": "nope", "value": 1}
        conn.execute(Campaign.__table__.update().where(Campaign.id == broken).values(submitted_content=submitted))
    out = launch_due(base, NOW)
    assert "unknown field 'nope'" in out[0]["reason"] and out[1]["recipients"] == 6
    assert status(base, broken) == st.CAMPAIGN_FAILED and status(base, fine) == st.CAMPAIGN_RUNNING


ACTIONS = {
    "submit": lambda engine, cid: _in_tx(engine, lambda c: lifecycle.submit(c, cid, actor="maker")),
    "approve": lambda engine, cid: _in_tx(engine, lambda c: lifecycle.approve(c, cid, actor="checker")),
    "reject": lambda engine, cid: _in_tx(engine, lambda c: lifecycle.reject(c, cid, actor="checker", reason="no")),
    "pause": lambda engine, cid: lifecycle.pause(engine, cid, actor="ops"),
    "resume": lambda engine, cid: _in_tx(engine, lambda c: lifecycle.resume(c, cid, actor="ops")),
    "cancel": lambda engine, cid: lifecycle.cancel(engine, cid, actor="ops"),
}
ALLOWED = {  # state -> the actions allowed from it
    st.CAMPAIGN_DRAFT: {"submit", "cancel"},
    st.CAMPAIGN_AWAITING_APPROVAL: {"approve", "reject", "cancel"},
    st.CAMPAIGN_SCHEDULED: {"cancel"},
    st.CAMPAIGN_RUNNING: {"pause", "cancel"},
    st.CAMPAIGN_PAUSED: {"resume", "cancel"},
    st.CAMPAIGN_COMPLETED: set(), st.CAMPAIGN_CANCELLED: set(), st.CAMPAIGN_FAILED: set(),
}


def _in_tx(engine, fn):
    with engine.begin() as conn:
        return fn(conn)


@pytest.mark.parametrize("state", list(ALLOWED))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_action_is_allowed_only_from_its_states(base, state, action):
    campaign_id = make_campaign(base)
    with base.begin() as conn:
        conn.execute(Campaign.__table__.update().where(Campaign.id == campaign_id).values(
            status=state, created_by="maker", submitted_by="maker"))
    if action in ALLOWED[state]:
        ACTIONS[action](base, campaign_id)
        assert status(base, campaign_id) != state
        who = {"submit": "maker", "approve": "checker", "reject": "checker"}.get(action, "ops")
        assert (who, f"campaign.{action}") in audited(base, campaign_id)
    else:
        with pytest.raises(CampaignError, match=f"is {state}; {action} needs it"):
            ACTIONS[action](base, campaign_id)
        assert status(base, campaign_id) == state


def test_completion_of_the_last_run_is_audited_by_the_scheduler(base):
    campaign_id = make_campaign(base)
    lifecycle.send_now(base, campaign_id, actor="maker")
    with base.begin() as conn:
        conn.exec_driver_sql(f"UPDATE messages SET status = 'delivered' WHERE campaign_id = {campaign_id}")
    complete_finished(base)
    assert ("scheduler", "campaign.complete") in audited(base, campaign_id)
