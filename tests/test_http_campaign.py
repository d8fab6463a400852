"""One campaign end to end through a Kannel-kind provider: dispatcher, broker, HTTP sendsms to the
gateway simulator, delivery reports called back into the web app on a real port, counts settled."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from engage.engine import campaigns
from engage.engine import statuses as st
from engage.engine.providers.kannel import KannelProvider
from engage.engine.segments import store as segments
from engage.engine.store.schema import Message, MessagePart, Provider
from engage.engine.subscribers import import_file as import_csv
from engage.engine.templates import store as templates
from engage.simulators.http_gateway import HttpSmscSimulator, start_in_thread
from tests.campaign_scenario import BODIES, wait_until_done, write_subscribers
from tests.fixtures.backends import running_workers
from tests.fixtures.web import serving

RECIPIENTS = 80


@pytest.fixture
def web(backend):
    """The web app serving delivery callbacks on a real port; its base URL."""
    with serving(backend[0]) as base:
        yield base


@pytest.fixture
def gateway():
    sim = start_in_thread(receipt_delay=0.05, throttle_rate=0.05, error_rate=0.03, undeliverable_rate=0.1,
                          smsc_reject_rate=0.05, seed=5)
    yield sim
    sim.stop_thread()


def launch_through_kannel(engine, tmp_path, sim: HttpSmscSimulator, callback_base: str) -> int:
    report = import_csv(engine, write_subscribers(tmp_path / "subs.csv", RECIPIENTS), "UZ")
    assert report.imported == RECIPIENTS
    config = KannelProvider.validate_config({"url": sim.kannel_url, "username": "engage", "password": "secret",
                                             "callback_base": callback_base, "max_connections": 8})
    with engine.begin() as conn:
        conn.execute(insert(Provider.__table__).values(name="kannel", kind="kannel", config=config, tps=2000,
                                                       priority=1, enabled=True))
        segment_id = segments.create(conn, "all", {"field": "msisdn", "op": "starts_with", "value": "+998"},
                                     actor="test")
        template_id = templates.create(conn, "promo", BODIES, default_language="en", actor="test")
        campaign_id = campaigns.create(conn, name="promo", segment_id=segment_id, template_id=template_id,
                                       sender_id="Engage", actor="test")
    assert campaigns.launch(engine, campaign_id, actor="test")["recipients"] == RECIPIENTS
    return campaign_id


def test_a_kannel_campaign_ends_with_every_message_final_as_the_gateway_reported_it(backend, web, gateway,
                                                                                    tmp_path):
    engine, broker_url, _ = backend
    campaign_id = launch_through_kannel(engine, tmp_path, gateway, web)
    gateway.fail_next("throttle", "error")
    with running_workers(engine, broker_url):
        counts = wait_until_done(engine, campaign_id, timeout=60)
    assert counts["delivered"] + counts["undelivered"] + counts["rejected"] == RECIPIENTS, counts
    assert counts["delivered"] > 0
    stats = gateway.stats()
    assert stats["throttled"] >= 1 and stats["errors"] >= 1 and stats["accepted"] == RECIPIENTS

    got = gateway.by_reference()
    assert len(got) == len(gateway.received) == RECIPIENTS, "a message reached the gateway twice"
    with engine.connect() as conn:
        messages = {m.id: m for m in conn.execute(select(Message.__table__).where(
            Message.campaign_id == campaign_id))}
        parts = conn.execute(select(MessagePart.__table__).where(MessagePart.message_id.in_(list(messages)))).all()
    assert sorted(p.message_id for p in parts) == sorted(messages), "one part row per message: Kannel splits"
    assert {p.provider_message_id for p in parts} == set(got)
    for part in parts:
        message, sent = messages[part.message_id], got[part.provider_message_id]
        assert (sent.to, sent.sender) == (message.msisdn, "Engage")
        assert sent.text == message.body, f"message {message.id}: the gateway got {sent.text!r}"
        assert sent.coding == (2 if message.encoding == "ucs2" else 0)
        assert message.status == st.RECEIPT_FINAL[sent.stat], f"message {message.id}: {message.status}, {sent.stat}"
    assert {m.encoding for m in messages.values()} == {"gsm7", "ucs2"}
