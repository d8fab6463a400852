"""Freezing a run's audience applies the campaign's rules in the same statement: a reproducible
control group, A/B arms by share, frequency caps across campaigns, recipient-local send times and
quiet hours (held, never dropped); and a run is launched once, whoever races for it."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engage.engine import statuses as st
from engage.engine.campaigns import CampaignError, lifecycle
from engage.engine.campaigns.completion import launch_due
from engage.engine.campaigns.launching import launch_run
from engage.engine.store.schema import CampaignRun, Message
from tests.campaign_setup import add_subscribers, column, make_campaign, statuses

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 13:00 in Tashkent, 09:00 in Berlin, 03:00 in New York
# subscriber i lives in ZONES[i % 4]


@pytest.fixture
def base(engine):
    add_subscribers(engine, 200, zones=("Asia/Tashkent", "Europe/Berlin", "America/New_York", None))
    return engine


def test_the_control_group_is_the_share_asked_for_recorded_and_never_sent(base):
    campaign_id = make_campaign(base, control_share=0.2, seed=42)
    launched = launch_run(base, campaign_id, NOW, actor="t", now=NOW)
    held_out = statuses(base, campaign_id)[st.CONTROL]
    assert 25 <= held_out <= 55
    assert launched["set_aside"]["control"] == held_out and launched["recipients"] == 200 - held_out


def test_the_same_seed_holds_out_the_same_subscribers(base):
    first = make_campaign(base, name="a", control_share=0.3, seed=7)
    second = make_campaign(base, name="b", control_share=0.3, seed=7)
    other = make_campaign(base, name="c", control_share=0.3, seed=8)
    for campaign_id in (first, second, other):
        launch_run(base, campaign_id, NOW, actor="t", now=NOW)
    assert column(base, first, "status") == column(base, second, "status") != column(base, other, "status")


def test_arms_split_recipients_by_share_and_each_message_records_its_arm(base):
    campaign_id = make_campaign(base, variants={"B": "Hello {{ first_name }}"},
                                arms=[{"arm": "A", "share": 70}, {"arm": "B", "share": 30}])
    launch_run(base, campaign_id, NOW, actor="t", now=NOW)
    arms = column(base, campaign_id, "arm")
    assert set(arms) == {"A", "B"} and 40 <= arms.count("B") <= 80


def test_an_arm_without_a_template_variant_is_refused_at_creation(base):
    with pytest.raises(CampaignError, match="no variant for arm 'B'"):
        make_campaign(base, arms=[{"arm": "A", "share": 50}, {"arm": "B", "share": 50}])


def test_the_global_frequency_cap_counts_messages_of_every_marketing_campaign(base, monkeypatch):
    monkeypatch.setenv("ENGAGE_FREQUENCY_CAP", "2/7")
    for name in ("one", "two"):
        launch_run(base, make_campaign(base, name=name), NOW, actor="t", now=NOW)
    third = launch_run(base, make_campaign(base, name="three"), NOW, actor="t", now=NOW)
    assert third["recipients"] == 0 and third["set_aside"]["capped"] == 200


def test_transactional_campaigns_bypass_the_global_cap(base, monkeypatch):
    monkeypatch.setenv("ENGAGE_FREQUENCY_CAP", "1/7")
    launch_run(base, make_campaign(base, name="promo"), NOW, actor="t", now=NOW)
    receipt = launch_run(base, make_campaign(base, name="otp", kind="transactional"), NOW, actor="t", now=NOW)
    assert receipt["recipients"] == 200


def test_messages_older_than_the_cap_period_do_not_count(base, monkeypatch):
    monkeypatch.setenv("ENGAGE_FREQUENCY_CAP", "1/7")
    launch_run(base, make_campaign(base, name="old"), NOW - timedelta(days=10), actor="t", now=NOW - timedelta(days=10))
    with base.begin() as conn:
        conn.execute(Message.__table__.update().values(created_at=NOW - timedelta(days=10)))
    assert launch_run(base, make_campaign(base, name="new"), NOW, actor="t", now=NOW)["recipients"] == 200


def test_a_campaign_cap_limits_its_own_runs(base):
    campaign_id = make_campaign(base, cap={"count": 1, "days": 30},
                                schedule={"kind": "daily", "time": "13:00", "timezone": "Asia/Tashkent"})
    launch_run(base, campaign_id, NOW, actor="t", now=NOW)
    again = launch_run(base, campaign_id, NOW + timedelta(days=1), actor="t", now=NOW + timedelta(days=1))
    assert again["set_aside"]["capped"] == 200


def test_local_time_sends_at_that_hour_in_each_recipients_zone(base):
    campaign_id = make_campaign(base, local_time="10:00", timezone="Asia/Tashkent")
    launch_run(base, campaign_id, NOW, actor="t", now=NOW)
    with base.connect() as conn:
        rows = conn.execute(select(Message.subscriber_id, Message.status, Message.not_before).where(
            Message.campaign_id == campaign_id)).all()
    by_zone = {r.subscriber_id % 4: (r.status, r.not_before.replace(tzinfo=UTC)) for r in rows}
    assert by_zone[0] == (st.PENDING, NOW)  # 10:00 in Tashkent has passed: at once
    assert by_zone[1] == (st.HELD, datetime(2026, 12, 1, 9, 0, tzinfo=UTC))  # 10:00 in Berlin
    assert by_zone[2] == (st.HELD, datetime(2026, 12, 1, 15, 0, tzinfo=UTC))  # 10:00 in New York
    assert by_zone[3] == (st.PENDING, NOW)  # no zone: the campaign's


def test_quiet_hours_hold_recipients_for_whom_it_is_night(base):
    campaign_id = make_campaign(base, quiet_hours="21:00-09:00")
    launch_run(base, campaign_id, NOW, actor="t", now=NOW)
    with base.connect() as conn:
        rows = conn.execute(select(Message.subscriber_id, Message.status, Message.not_before).where(
            Message.campaign_id == campaign_id)).all()
    by_zone = {r.subscriber_id % 4: (r.status, r.not_before.replace(tzinfo=UTC)) for r in rows}
    assert by_zone[0][0] == st.PENDING and by_zone[1][0] == st.PENDING  # 13:00 and 09:00 local
    assert by_zone[2] == (st.HELD, datetime(2026, 12, 1, 14, 0, tzinfo=UTC))  # 03:00 in New York: until 09:00


def test_a_run_is_launched_once_however_often_it_is_asked(base):
    campaign_id = make_campaign(base)
    assert launch_run(base, campaign_id, NOW, actor="t", now=NOW)["recipients"] == 200
    assert launch_run(base, campaign_id, NOW, actor="t", now=NOW) is None
    assert statuses(base, campaign_id) == {st.PENDING: 200}


def test_two_schedulers_racing_launch_a_due_run_once(base):
    campaign_id = make_campaign(base, schedule={"kind": "at", "at": "2026-12-01T13:00", "timezone": "Asia/Tashkent"},
                                now=NOW - timedelta(hours=1))
    with base.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="maker", now=NOW - timedelta(hours=1))
    results, barrier = [], threading.Barrier(2)

    def scheduler():
        barrier.wait()
        try:
            results.append(launch_due(base, NOW))
        except Exception as exc:  # SQLite may refuse the loser outright: it must not launch either
            results.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with base.connect() as conn:
        assert conn.execute(select(CampaignRun.id).where(CampaignRun.campaign_id == campaign_id)).all() != []
        assert len(conn.execute(select(CampaignRun.id).where(CampaignRun.campaign_id == campaign_id)).all()) == 1
    assert statuses(base, campaign_id) == {st.PENDING: 200}
