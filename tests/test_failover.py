"""Least-cost routing end to end: each message goes to the cheapest provider that covers it,
its price is recorded and the campaign knows its cost; a provider that rejects permanently or
goes down hands its messages to the next cheapest."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from engage.engine import campaigns
from engage.engine.providers.records import add_smpp
from engage.engine.routes import price_tables
from engage.engine.store.schema import Message
from tests.campaign_scenario import launch_campaign, wait_until_done
from tests.fixtures.backends import running_workers


def _add_backup(engine, tmp_path, port: int) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        add_smpp(conn, name="backup", host="127.0.0.1", port=port, system_id="engage", password="secret",
                 tps=5000, binds=1, window=16, actor="test")
    prices = tmp_path / "prices.csv"
    prices.write_text("provider,prefix,price,currency\nsim,998,0.0200,USD\nbackup,998,0.0300,USD\n"
                      "backup,99891,0.0100,USD\n", encoding="utf-8")
    report = price_tables.import_csv(engine, prices, actor="test")
    assert report.imported == 3 and not report.rejected


def _routes(engine, campaign_id: int) -> list:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(Message.msisdn, Message.provider_id, Message.price, Message.parts,
                                   Message.tried_providers, Message.status)
                            .where(Message.campaign_id == campaign_id)).all()


def test_each_message_goes_to_the_cheapest_provider_for_its_prefix_and_the_campaign_knows_its_cost(
        backend, smsc_factory, tmp_path):
    engine, broker_url, _ = backend
    main, backup = smsc_factory(receipt_delay=0.02), smsc_factory(receipt_delay=0.02)
    campaign_id = launch_campaign(engine, tmp_path, main.port, 40)
    _add_backup(engine, tmp_path, backup.port)
    with running_workers(engine, broker_url):
        counts = wait_until_done(engine, campaign_id)
    assert counts["delivered"] == 37
    rows = _routes(engine, campaign_id)
    for r in rows:
        cheapest, unit = (2, Decimal("0.01")) if r.msisdn.startswith("+99891") else (1, Decimal("0.02"))
        assert (r.provider_id, r.price) == (cheapest, unit * r.parts)
    assert {r.destination for r in backup.received} == {r.msisdn[1:] for r in rows if r.provider_id == 2}
    with engine.connect() as conn:
        cost = campaigns.summary(conn, campaign_id)["cost"]
    assert Decimal(cost["USD"]) == sum(r.price for r in rows)


def test_messages_a_provider_rejects_permanently_fail_over_to_the_next_cheapest(backend, smsc_factory, tmp_path):
    engine, broker_url, _ = backend
    main, backup = smsc_factory(receipt_delay=0.02, reject_rate=1.0), smsc_factory(receipt_delay=0.02)
    campaign_id = launch_campaign(engine, tmp_path, main.port, 30)
    _add_backup(engine, tmp_path, backup.port)
    with running_workers(engine, broker_url):
        counts = wait_until_done(engine, campaign_id)
    assert counts["delivered"] == 27
    rows = _routes(engine, campaign_id)
    assert all(r.provider_id == 2 for r in rows)
    assert all(r.tried_providers == "1" for r in rows if not r.msisdn.startswith("+99891"))


def test_a_provider_that_goes_down_hands_its_queued_messages_to_the_next(backend, smsc_factory, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("ENGAGE_FAILOVER_AFTER", "1")
    monkeypatch.setattr("engage.workers.dispatch.SWEEP_EVERY", 0.5)
    engine, broker_url, _ = backend
    main, backup = smsc_factory(receipt_delay=0.02), smsc_factory(receipt_delay=0.02)
    campaign_id = launch_campaign(engine, tmp_path, main.port, 30)
    _add_backup(engine, tmp_path, backup.port)
    main.stop_thread()  # the cheap provider is down before anything is sent
    with running_workers(engine, broker_url):
        counts = wait_until_done(engine, campaign_id, timeout=90)
    assert counts["delivered"] == 27
    assert all(r.provider_id == 2 for r in _routes(engine, campaign_id))
