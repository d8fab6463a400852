"""Prometheus metrics: counted per batch by the hot paths, provider figures from the heartbeat,
queue depths read at scrape time, served at /metrics by workers and by the web process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from engage.engine import metrics
from engage.engine.broker import connect
from engage.engine.broker.queues import receipts_queue, send_queue
from engage.engine.providers.records import add_smpp
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import Receipt
from tests.campaign_scenario import launch_campaign, wait_until_done
from tests.fixtures.brokers import reject_all
from tests.fixtures.web import serving


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(url: str, token: str | None = None) -> dict[tuple[str, tuple], float]:
    """Every sample of a /metrics page, keyed by (name, sorted labels)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prefix(monkeypatch):
    """Queue names no other test uses."""
    monkeypatch.setenv("ENGAGE_QUEUE_PREFIX", f"t{uuid.uuid4().hex[:8]}")


def test_a_submitted_batch_counts_its_messages_and_parts():
    before = value("engage_messages_submitted_total", provider="m1"), value("engage_parts_submitted_total",
                                                                             provider="m1")
    metrics.submitted("m1", 10, 14)
    assert value("engage_messages_submitted_total", provider="m1") == before[0] + 10
    assert value("engage_parts_submitted_total", provider="m1") == before[1] + 14


def test_failures_are_counted_by_a_bounded_reason_class():
    metrics.failed("m2", metrics.reason_class("smpp:0x0B"), 3)
    metrics.failed("m2", metrics.reason_class("no route for +998901234567"), 2)
    assert value("engage_messages_failed_total", provider="m2", reason_class="smpp:0x0b") == 3
    assert value("engage_messages_failed_total", provider="m2", reason_class="other") == 2
    assert metrics.reason_class("http:429") == "http:429" and metrics.reason_class("no_route") == "no_route"
    assert metrics.reason_class(None) == "other"


def test_receipts_are_counted_by_stat_and_named_by_provider(engine):
    with engine.begin() as conn:
        pid = add_smpp(conn, name=f"r-{uuid.uuid4().hex[:6]}", host="h", port=1, system_id="a", password="p",
                       actor="t")
        name = conn.exec_driver_sql(f"SELECT name FROM providers WHERE id = {pid}").scalar()
    metrics.watch(engine, "memory://")
    metrics.receipts(pid, {"DELIVRD": 5, "undeliv": 1, "weird stat!": 1, "EXPIRED": 0})
    assert value("engage_receipts_total", provider=name, stat="DELIVRD") == 5
    assert value("engage_receipts_total", provider=name, stat="UNDELIV") == 1
    assert value("engage_receipts_total", provider=name, stat="OTHER") == 1
    assert REGISTRY.get_sample_value("engage_receipts_total", {"provider": name, "stat": "EXPIRED"}) is None


def test_dispatch_counts_batches_and_messages():
    batches, messages = value("engage_dispatch_batches_total"), value("engage_messages_dispatched_total")
    metrics.dispatched(500)
    metrics.dispatched(20)
    assert value("engage_dispatch_batches_total") == batches + 2
    assert value("engage_messages_dispatched_total") == messages + 520


def test_a_send_batch_is_timed_and_dead_letters_counted():
    count = value("engage_send_batch_seconds_count")
    with metrics.send_batch_timer():
        time.sleep(0.01)
    assert value("engage_send_batch_seconds_count") == count + 1
    metrics.dead_lettered("engage.send.99", 2)
    assert value("engage_dead_lettered_total", queue="engage.send.99") >= 2


def test_queue_depths_and_unmatched_receipts_are_read_when_scraped(engine, broker_url, prefix):
    with engine.begin() as conn:
        pid = add_smpp(conn, name="q", host="h", port=1, system_id="a", password="p", actor="t")
        conn.execute(insert(Receipt.__table__), [
            {"provider_id": pid, "provider_message_id": f"x{i}", "stat": "DELIVRD", "matched": i == 0,
             "orphaned": False} for i in range(3)])
    broker = connect(broker_url)
    try:
        for _ in range(4):
            broker.publish(send_queue(pid), b"{}")
        broker.publish(receipts_queue(), b"{}")
        reject_all(broker, receipts_queue(), 1)
        metrics.watch(engine, broker_url)
        metrics.SHARED.cache_seconds = 0
        assert value("engage_queue_depth", queue=send_queue(pid)) == 4
        assert value("engage_queue_depth", queue=f"{receipts_queue()}.dlq") == 1
        assert value("engage_receipts_unmatched") == 2
    finally:
        metrics.SHARED.cache_seconds = 1.0
        broker.delete(send_queue(pid))
        broker.delete(receipts_queue())
        broker.close()


def test_the_web_process_serves_metrics_over_http(engine, prefix, monkeypatch):
    monkeypatch.setenv("ENGAGE_METRICS_TOKEN", "prometheus-secret")
    with engine.begin() as conn:
        add_smpp(conn, name="web", host="h", port=1, system_id="a", password="p", actor="t")
    with serving(engine) as base:
        metrics.submitted("web", 3, 3)
        samples = scrape(f"{base}/metrics", "prometheus-secret")
    assert samples[("engage_messages_submitted_total", (("provider", "web"),))] >= 3
    assert ("engage_queue_depth", (("queue", receipts_queue()),)) in samples
    assert ("engage_receipts_unmatched", ()) in samples


@pytest.fixture
def worker_site(tmp_path, smsc, prefix):
    """A campaign of 17 (20 less 3 opted out) on a SQLite database, and `engage worker all` with
    ENGAGE_METRICS_PORT set, in a process of its own."""
    url = f"sqlite:///{tmp_path / 'engage.db'}"
    upgrade(url)
    engine = make_engine(url)
    campaign_id = launch_campaign(engine, tmp_path, smsc.port, 20)
    port = free_port()
    env = {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": "memory://",
           "ENGAGE_METRICS_PORT": str(port)}
    worker = subprocess.Popen([sys.executable, "-m", "engage.cli", "worker", "all"], env=env,
                              stderr=subprocess.PIPE, text=True)
    try:
        yield engine, campaign_id, f"http://127.0.0.1:{port}/metrics"
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
        engine.dispose()
    assert worker.returncode == 0, err


def _scrape_when(url: str, ready, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    samples: dict = {}
    while time.monotonic() < deadline:
        try:
            samples = scrape(url)
        except OSError:
            samples = {}
        if samples and ready(samples):
            return samples
        time.sleep(0.2)
    raise AssertionError(f"/metrics not as expected after {timeout}s: "
                         f"{ {k: v for k, v in samples.items() if k[0].startswith('engage_')} }")


def test_a_worker_process_serves_provider_figures_and_queue_depths(worker_site):
    engine, campaign_id, url = worker_site
    samples = _scrape_when(url, lambda s: s.get(("engage_provider_binds_up", (("provider", "sim"),))) == 2)
    assert samples[("engage_provider_healthy", (("provider", "sim"),))] == 1
    assert ("engage_queue_depth", (("queue", receipts_queue()),)) in samples
    wait_until_done(engine, campaign_id, timeout=60)


def test_a_campaign_moves_the_workers_counters(worker_site):
    engine, campaign_id, url = worker_site
    counts = wait_until_done(engine, campaign_id, timeout=60)
    sent = sum(n for status, n in counts.items() if status not in ("pending", "queued", "failed"))
    sim = (("provider", "sim"),)
    samples = _scrape_when(url, lambda s: s.get(("engage_messages_submitted_total", sim)) == sent, timeout=10)
    assert samples[("engage_parts_submitted_total", sim)] >= sent
    assert samples[("engage_dispatch_batches_total", ())] >= 1
    assert samples[("engage_messages_dispatched_total", ())] == 17
    assert sum(v for (name, labels), v in samples.items() if name == "engage_receipts_total") == sent
