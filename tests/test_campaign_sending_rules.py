"""The rules a campaign keeps while it sends: quiet hours that begin mid-run hold messages, the
A/B arm picks the template variant, the cap on parts fails what is too long, held messages are
released when due, a deadline expires what is unsent, pacing keeps to the campaign's rate, and a
pause stops sending within seconds with nothing sent twice after resume."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from engage.engine import statuses as st
from engage.engine.broker import connect
from engage.engine.broker.queues import send_queue
from engage.engine.campaigns import lifecycle
from engage.engine.campaigns.completion import expire_overdue, release_held
from engage.engine.campaigns.launching import launch_run
from engage.engine.delivery.dispatch import Dispatcher, Pacer
from engage.engine.providers.records import add_smpp
from engage.engine.store.schema import Campaign, CampaignRun, Message
from tests.campaign_scenario import assert_simulator_agrees, wait_until_done
from tests.campaign_setup import add_subscribers, column, make_campaign, recorded, statuses
from tests.fixtures.backends import running_workers


def _dispatch_once(engine, broker_url, port=2775):
    with engine.begin() as conn:
        if not conn.exec_driver_sql("SELECT count(*) FROM providers").scalar():
            add_smpp(conn, name="sim", host="127.0.0.1", port=port, system_id="engage", password="secret",
                     actor="test")
    broker = connect(broker_url)
    try:
        return Dispatcher(engine, broker).run_once()
    finally:
        broker.purge(send_queue(1))
        broker.close()


def _bodies(engine, campaign_id):
    with engine.connect() as conn:
        return dict(conn.execute(select(Message.arm, Message.body).where(Message.campaign_id == campaign_id)).all())


def test_quiet_hours_that_begin_while_messages_wait_hold_them_until_they_end(engine, broker_url):
    add_subscribers(engine, 4, zones=("Asia/Tashkent",))
    campaign_id = make_campaign(engine)
    launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    with engine.begin() as conn:  # quiet around the clock from now on, as if 21:00 had come
        conn.execute(update(Campaign.__table__).values(quiet_hours="00:00-23:59"))
    _dispatch_once(engine, broker_url)
    assert statuses(engine, campaign_id) == {st.HELD: 4}


def test_each_recipient_gets_the_template_variant_of_their_arm(engine, broker_url):
    add_subscribers(engine, 40)
    campaign_id = make_campaign(engine, variants={"B": "Hello {{ first_name }}"},
                                arms=[{"arm": "A", "share": 50}, {"arm": "B", "share": 50}])
    launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    _dispatch_once(engine, broker_url)
    with engine.connect() as conn:
        rows = conn.execute(select(Message.arm, Message.body).where(Message.campaign_id == campaign_id)).all()
    assert {arm for arm, _ in rows} == {"A", "B"}
    assert all(body.startswith("Hi " if arm == "A" else "Hello ") for arm, body in rows)


def test_a_message_over_the_campaigns_cap_on_parts_fails_saying_so(engine, broker_url):
    add_subscribers(engine, 2)
    campaign_id = make_campaign(engine, max_parts=1)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE template_variants SET body = 'Hi {{ first_name }} ' || '" + "x" * 400 + "'")
    launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    _dispatch_once(engine, broker_url)
    with engine.connect() as conn:
        errors = set(conn.execute(select(Message.error).where(Message.campaign_id == campaign_id)).scalars())
    assert statuses(engine, campaign_id) == {st.FAILED: 2} and errors == {"3 parts, over the campaign's cap of 1"}


def test_held_messages_are_released_when_their_time_comes(engine):
    add_subscribers(engine, 3, zones=("America/New_York",))
    campaign_id = make_campaign(engine, local_time="10:00")
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    launch_run(engine, campaign_id, now, actor="t", now=now)
    assert statuses(engine, campaign_id) == {st.HELD: 3}
    assert release_held(engine, datetime(2026, 12, 1, 14, 59, tzinfo=UTC)) == 0
    assert release_held(engine, datetime(2026, 12, 1, 15, 0, tzinfo=UTC)) == 3
    assert statuses(engine, campaign_id) == {st.PENDING: 3}


def test_a_runs_deadline_expires_what_is_still_unsent(engine):
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine, deadline_minutes=60)
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    launch_run(engine, campaign_id, now, actor="t", now=now)
    assert expire_overdue(engine, now + timedelta(minutes=59)) == 0
    assert expire_overdue(engine, now + timedelta(minutes=60)) == 3
    assert statuses(engine, campaign_id) == {st.EXPIRED: 3}
    with engine.connect() as conn:
        assert conn.execute(select(CampaignRun.expires_at)).scalar_one().replace(tzinfo=UTC) == \
            now + timedelta(minutes=60)


def test_a_runs_deadline_records_the_expired_messages_as_an_event_naming_them(engine):
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine, deadline_minutes=60)
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    launch_run(engine, campaign_id, now, actor="t", now=now)
    expire_overdue(engine, now + timedelta(minutes=60))
    assert recorded(engine, campaign_id, st.EXPIRED) == (3, set(column(engine, campaign_id, "id")))


def test_the_pacer_allows_the_campaigns_rate_and_refills_with_time():
    pacer = Pacer()
    assert pacer.allowance(1, None, 500) == 500
    assert pacer.allowance(1, 100, 500) == 100
    pacer.spent(1, 100)
    assert pacer.allowance(1, 100, 500) == 0
    time.sleep(0.25)
    assert 20 <= pacer.allowance(1, 100, 500) <= 40


def test_pause_stops_sending_within_seconds_and_resume_sends_the_rest_once(backend, smsc_factory):
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.01)
    add_subscribers(engine, 300)
    with engine.begin() as conn:
        add_smpp(conn, name="sim", host="127.0.0.1", port=sim.port, system_id="engage", password="secret",
                 tps=1000, binds=1, window=8, actor="test")
    campaign_id = make_campaign(engine, max_rate=60)
    lifecycle.send_now(engine, campaign_id, actor="t")
    with running_workers(engine, broker_url):
        deadline = time.monotonic() + 30
        while len(sim.received) < 60 and time.monotonic() < deadline:
            time.sleep(0.05)
        lifecycle.pause(engine, campaign_id, actor="ops")
        time.sleep(2.0)  # what a sender already held finishes
        stopped_at = len(sim.received)
        time.sleep(2.0)
        assert len(sim.received) == stopped_at < 300
        with engine.begin() as conn:
            lifecycle.resume(conn, campaign_id, actor="ops")
        counts = wait_until_done(engine, campaign_id, timeout=60)
    assert counts["delivered"] == 300
    destinations = [r.destination for r in sim.received]
    assert len(destinations) == len(set(destinations)) == 300
    assert_simulator_agrees(engine, sim, campaign_id)
