"""One campaign end to end through real parts: CSV import, segment, template, launch,
dispatcher, broker, SMPP over TCP to the simulator, receipts back, counts settled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from engage.engine.broker import connect
from tests.campaign_scenario import assert_simulator_agrees, launch_campaign, wait_until_done
from tests.fixtures.backends import running_workers


def test_every_recipient_is_delivered_and_matches_what_the_smsc_received(backend, smsc_factory, tmp_path):
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.05)
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 120)
    with running_workers(engine, broker_url):
        counts = wait_until_done(engine, campaign_id)
    assert counts["delivered"] == 117
    assert sum(counts.values()) == 117
    assert_simulator_agrees(engine, sim, campaign_id)


def test_refused_throttled_and_undeliverable_messages_each_end_in_the_right_state(backend, smsc_factory, tmp_path):
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.02, fail_rate=0.05, throttle_rate=0.05, undeliverable_rate=0.1, seed=11)
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 150)
    with running_workers(engine, broker_url):
        counts = wait_until_done(engine, campaign_id)
    assert sim.stats()["throttled"] > 0
    assert counts["failed"] > 0 and counts["undelivered"] > 0 and counts["delivered"] > 0
    assert counts["failed"] + counts["undelivered"] + counts["delivered"] == 147
    assert_simulator_agrees(engine, sim, campaign_id)


def _spawn(name: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "engage.cli", "worker", name], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("backend", ["production"], indirect=True)
def test_separate_worker_processes_run_the_campaign_on_postgres_and_rabbitmq(backend, smsc_factory, tmp_path):
    engine, broker_url, url = backend
    sim = smsc_factory(receipt_delay=0.05)
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 200)
    env = {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": broker_url}
    workers = [_spawn(name, env) for name in ("receipts", "send", "dispatch")]
    try:
        counts = wait_until_done(engine, campaign_id)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=60)[0] for proc in workers]
    assert [p.returncode for p in workers] == [0, 0, 0], outputs
    assert counts["delivered"] == 197
    assert_simulator_agrees(engine, sim, campaign_id)


def test_a_malformed_send_batch_goes_to_the_dead_letter_queue_and_sending_goes_on(backend, smsc_factory, tmp_path):
    from engage.engine.broker.queues import send_queue

    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.02)
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 30)
    broker = connect(broker_url)
    broker.publish(send_queue(1), b'{"provider_id": 1, "messages": "not a list"}')
    with running_workers(engine, broker_url):
        counts = wait_until_done(engine, campaign_id)
    assert counts["delivered"] == 27
    assert broker.depth(send_queue(1) + ".dlq") == 1
    broker.delete(send_queue(1))
    broker.close()
