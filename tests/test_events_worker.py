"""`engage worker events`: folds the event stream as it grows, looks again at once while batches are
full, reports what it folded and how late it is on /metrics, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from prometheus_client import REGISTRY
from sqlalchemy import Engine, insert, select

from engage.engine import statuses as st
from engage.engine.analytics import consumers, delivery_stats
from engage.engine.events import record_batch
from engage.engine.store.schema import Event
from engage.workers import events
from tests.campaign_setup import bare_messages


def behind(engine: Engine) -> int:
    with engine.connect() as conn:
        return next(c for c in consumers.status(conn) if c["name"] == "delivery_stats")["behind"]


def test_the_events_worker_folds_what_is_new_and_stops_cleanly_on_sigterm(engine, database_url):
    ids = bare_messages(engine, 5, status=st.DELIVERED)
    worker = subprocess.Popen([sys.executable, "-m", "engage.cli", "worker", "events"],
                              env={**os.environ, "ENGAGE_DATABASE_URL": database_url},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with engine.begin() as conn:
            record_batch(conn, st.DELIVERED, 1, ids)
        deadline = time.monotonic() + 60
        while behind(engine) and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=60)[0]
    assert worker.returncode == 0, output
    with engine.connect() as conn:
        assert delivery_stats.figures(conn, 1, [])[0][st.DELIVERED] == 5


def test_a_full_batch_is_followed_at_once_by_the_next(engine):
    with engine.begin() as conn:
        conn.execute(insert(Event.__table__), [{"kind": "probe"} for _ in range(1001)])
    assert events.tick(engine) is True  # a thousand events: more are waiting
    assert events.tick(engine) is False
    assert behind(engine) == 0


def test_folded_events_and_the_lag_are_on_metrics(engine):
    before = REGISTRY.get_sample_value("engage_events_folded_total", {"consumer": "delivery_stats"}) or 0
    with engine.begin() as conn:
        conn.execute(insert(Event.__table__), [{"kind": "probe"} for _ in range(3)])
    consumers.watch_lag(engine)
    assert REGISTRY.get_sample_value("engage_events_lag_seconds", {"consumer": "delivery_stats"}) >= 0
    events.tick(engine)
    consumers.watch_lag(engine)
    assert REGISTRY.get_sample_value("engage_events_folded_total", {"consumer": "delivery_stats"}) == before + 3
    assert REGISTRY.get_sample_value("engage_events_lag_seconds", {"consumer": "delivery_stats"}) == 0


def test_the_worker_reads_nothing_twice_when_it_has_caught_up(engine):
    with engine.begin() as conn:
        conn.execute(insert(Event.__table__), [{"kind": "probe"}])
    events.tick(engine)
    with engine.connect() as conn:
        newest = conn.execute(select(Event.id).order_by(Event.id.desc()).limit(1)).scalar()
    assert consumers.run_once(engine)["consumers"]["delivery_stats"] == {
        "events": 0, "full": False, "last_id": newest}
