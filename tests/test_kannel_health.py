"""A Kannel provider's health is its SMSC link's, as Kannel's status page shows it: smsbox takes
messages with the link down ("3: Queued for later delivery"), so only the page tells. A provider
whose link is down is unhealthy in `engage provider status` within seconds, and a campaign's
messages go to the next provider."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.engine.providers.records import add_provider
from engage.engine.providers.status import Heartbeat, read_status
from engage.engine.store.schema import Message
from tests.campaign_scenario import launch_campaign, wait_until_done
from tests.fixtures.backends import running_workers
from tests.fixtures.callbacks import wait_until
from tests.fixtures.kannel import Kannel
from tests.fixtures.web import serving
from tests.kannel_rig import KannelRig, engage_on_kannel, provider_config

WITH_STATUS_PAGE = {"status_interval": 0.5}


def watched(kannel: Kannel) -> dict[str, object]:
    return {"status_url": kannel.status_url, "status_password": kannel.status_password, **WITH_STATUS_PAGE}


def reported(rig: KannelRig) -> dict[str, object]:
    """The provider's row in `engage provider status` after one heartbeat of its sender."""
    Heartbeat(rig.engine, [rig.provider], loop=rig.loop).beat()
    with rig.engine.connect() as conn:
        return next(r for r in read_status(conn) if r["provider_id"] == rig.provider_id)


@pytest.mark.parametrize("how", ["cut", "stop"])
def test_the_provider_is_unhealthy_while_kannels_smsc_link_is_down_and_healthy_once_it_is_back(site, kannel, how):
    engine, base = site
    with engage_on_kannel(engine, base, kannel, **watched(kannel)) as rig:
        assert reported(rig)["healthy"] is True
        with kannel.link_down(how):
            wait_until(lambda: not rig.provider.status()["healthy"], 5, "the provider to see the link down")
            row = reported(rig)
            assert row["healthy"] is False and row["binds_up"] == 0
        wait_until(lambda: rig.provider.status()["healthy"], 5, "the provider to see the link back")
        assert reported(rig)["healthy"] is True


def test_a_status_page_that_refuses_the_password_leaves_the_provider_unhealthy_saying_why(site, kannel):
    engine, base = site
    with engage_on_kannel(engine, base, kannel, **{**watched(kannel), "status_password": "wrong"}) as rig:
        status = rig.provider.status()
    assert status["healthy"] is False and "refused status_password" in status["status_problem"]


def test_a_status_page_nobody_answers_at_leaves_the_provider_unhealthy(site, kannel):
    engine, base = site
    with engage_on_kannel(engine, base, kannel, status_url="http://127.0.0.1:9/status.xml") as rig:
        status = rig.provider.status()
    assert status["healthy"] is False and "unreachable" in status["status_problem"]


def test_a_campaign_fails_over_from_a_kannel_whose_link_is_down(backend, kannel, smsc, tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_FAILOVER_AFTER", "1")
    monkeypatch.setattr("engage.workers.dispatch.SWEEP_EVERY", 0.5)
    engine, broker_url, _ = backend
    campaign_id = launch_campaign(engine, tmp_path, smsc.port, 30)  # its SMPP provider "sim" comes second
    with serving(engine) as base, kannel.link_down("cut"):
        with engine.begin() as conn:
            kannel_id = add_provider(conn, name="kannel", kind="kannel", priority=1, tps=1000, actor="test",
                                     config=provider_config(kannel, base, **watched(kannel)))
        queued_before = kannel.status().sms_sent_queued
        with running_workers(engine, broker_url):
            counts = wait_until_done(engine, campaign_id, timeout=90)
        assert kannel.status().sms_sent_queued == queued_before, "a message went to Kannel's queue"
    assert counts["delivered"] == 27
    with engine.connect() as conn:
        providers = set(conn.execute(select(Message.provider_id).where(Message.campaign_id == campaign_id)).scalars())
    assert kannel_id not in providers and len(providers) == 1


def test_the_health_is_the_configured_smsc_links_and_a_link_kannel_lacks_is_down(site, kannel):
    engine, base = site
    with engage_on_kannel(engine, base, kannel, smsc=kannel.smsc_id, **watched(kannel)) as rig:
        assert rig.provider.status()["link"] == "online" and rig.provider.status()["healthy"] is True
    with engage_on_kannel(engine, base, kannel, smsc="elsewhere", **watched(kannel)) as rig:
        status = rig.provider.status()
    assert status["healthy"] is False and "no SMSC link 'elsewhere'" in status["status_problem"]
