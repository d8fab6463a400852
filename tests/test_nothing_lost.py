"""Nothing is lost: with a sender killed mid-campaign, a provider dropping its connections, or
RabbitMQ restarting, every message still reaches a final state, and what the SMSC received
twice is bounded by what was in flight when the fault hit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from engage.engine import statuses as st
from engage.engine.store.schema import Message, MessagePart
from engage.workers import runner
from tests.campaign_scenario import launch_campaign, wait_until_done
from tests.fixtures.backends import running_workers

FAST_SWEEP = {"ENGAGE_SEND_LEASE": "3", "ENGAGE_REPUBLISH_AFTER": "2"}


def _spawn(name: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "engage.cli", "worker", name], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _stop(procs: list[subprocess.Popen]) -> list[str]:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    return [proc.communicate(timeout=60)[1] for proc in procs]


def _submitted(engine, campaign_id: int) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(MessagePart).join(
            Message, Message.id == MessagePart.message_id).where(Message.campaign_id == campaign_id)).scalar_one()


def _wait_for_submitted(engine, campaign_id: int, at_least: int, timeout: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while _submitted(engine, campaign_id) < at_least:
        assert time.monotonic() < deadline, "the campaign never got going"
        time.sleep(0.05)


def assert_every_message_arrived(engine, sim, campaign_id: int, max_duplicates: int) -> int:  # noqa: ANN001
    """Every recipient's text reached the SMSC at least once and every message is final;
    returns how many submits the SMSC saw beyond the first for the same part."""
    with engine.connect() as conn:
        msgs = conn.execute(select(Message.msisdn, Message.status, Message.parts).where(
            Message.campaign_id == campaign_id)).all()
    assert all(m.status in st.FINAL for m in msgs), Counter(m.status for m in msgs)
    seen = Counter((r.destination, r.concat[2] if r.concat else 1) for r in sim.received)
    for m in msgs:
        for part in range(1, (m.parts or 1) + 1):
            assert seen[(m.msisdn.lstrip("+"), part)] >= 1, f"{m.msisdn} part {part} never reached the SMSC"
    duplicates = sum(n - 1 for n in seen.values())
    assert duplicates <= max_duplicates, f"{duplicates} duplicate submits, more than {max_duplicates} in flight"
    return duplicates


@pytest.mark.parametrize("backend", ["production"], indirect=True)
def test_a_sender_killed_mid_campaign_loses_nothing_and_duplicates_at_most_its_window(backend, smsc_factory,
                                                                                      tmp_path):
    engine, broker_url, url = backend
    sim = smsc_factory(receipt_delay=0.05)
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 400, tps=150, window=8)
    env = {**os.environ, **FAST_SWEEP, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": broker_url}
    workers = [_spawn(name, env) for name in ("receipts", "dispatch")]
    doomed = _spawn("send", env)
    try:
        _wait_for_submitted(engine, campaign_id, 60)
        doomed.kill()  # SIGKILL: no chance to record what it had in flight
        doomed.wait()
        workers.append(_spawn("send", env))
        counts = wait_until_done(engine, campaign_id, timeout=90)
    finally:
        errors = _stop(workers)
    assert counts["delivered"] == 397, (counts, errors)
    assert_every_message_arrived(engine, sim, campaign_id, max_duplicates=2 * 8)  # binds x window


def test_a_provider_dropping_its_connections_loses_nothing(backend, smsc_factory, tmp_path):
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.05)
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 300, tps=200, window=8)
    with running_workers(engine, broker_url):
        for at_least in (50, 150):
            _wait_for_submitted(engine, campaign_id, at_least)
            sim.drop_connections()
        counts = wait_until_done(engine, campaign_id, timeout=90)
    assert counts["delivered"] == 297
    assert_every_message_arrived(engine, sim, campaign_id, max_duplicates=2 * 2 * 8)  # drops x binds x window


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@pytest.mark.parametrize("backend", ["production"], indirect=True)
def test_a_rabbitmq_restart_mid_campaign_loses_nothing(backend, smsc_factory, tmp_path, monkeypatch):
    engine, broker_url, _ = backend
    for key, value in FAST_SWEEP.items():
        monkeypatch.setenv(key, value)
    sim = smsc_factory(receipt_delay=0.05)
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 300, tps=150, window=8)
    stop = __import__("threading").Event()
    threads = runner.start(["receipts", "send", "dispatch"], engine, broker_url, stop)
    try:
        _wait_for_submitted(engine, campaign_id, 50)
        _rabbitmqctl("stop_app")
        try:
            time.sleep(2)
        finally:
            _rabbitmqctl("start_app")
        counts = wait_until_done(engine, campaign_id, timeout=120)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert counts["delivered"] == 297
    assert_every_message_arrived(engine, sim, campaign_id, max_duplicates=2 * 8)
    with engine.connect() as conn:
        parts = conn.execute(select(func.count()).select_from(MessagePart)).scalar_one()
    assert parts == 297
