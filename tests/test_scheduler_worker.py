"""The scheduler as it runs: two scheduler workers side by side, one leading, launch a campaign
scheduled a moment ahead exactly once, and the other workers send it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engage.engine import statuses as st
from engage.engine.campaigns import lifecycle
from engage.engine.providers.records import add_smpp
from engage.engine.store.schema import CampaignRun
from engage.workers import runner
from tests.campaign_scenario import wait_until_done
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.backends import running_workers


def test_two_scheduler_workers_launch_a_scheduled_campaign_once_and_it_is_sent(backend, smsc_factory):
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.01)
    add_subscribers(engine, 20)
    with engine.begin() as conn:
        add_smpp(conn, name="sim", host="127.0.0.1", port=sim.port, system_id="engage", password="secret",
                 actor="test")
    at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    campaign_id = make_campaign(engine, schedule={"kind": "at", "at": at.isoformat()})
    with engine.begin() as conn:
        assert lifecycle.submit(conn, campaign_id, actor="maker") == st.CAMPAIGN_SCHEDULED
    stop = threading.Event()
    schedulers = runner.start(["scheduler", "scheduler"], engine, broker_url, stop)
    try:
        with running_workers(engine, broker_url):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    if conn.execute(select(CampaignRun.id).where(CampaignRun.campaign_id == campaign_id)).first():
                        break
                time.sleep(0.1)
            counts = wait_until_done(engine, campaign_id, timeout=60)
            run = _run_when_completed(engine, campaign_id)
    finally:
        stop.set()
        for thread in schedulers:
            thread.join(timeout=30)
    assert counts[st.DELIVERED] == 20 and len(sim.received) == 20
    assert run.scheduled_for.replace(tzinfo=UTC) == at and run.status == st.RUN_COMPLETED


def _run_when_completed(engine, campaign_id, timeout=10.0):
    """The campaign's one run, once completion (a second after the last receipt at most) has seen it."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            run = conn.execute(select(CampaignRun.__table__).where(CampaignRun.campaign_id == campaign_id)).one()
        if run.status != st.RUN_RUNNING or time.monotonic() > deadline:
            return run
        time.sleep(0.1)
