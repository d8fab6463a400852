"""Provider health as senders report it: one row per (provider, sender), refreshed by a heartbeat,
summed over live senders, and forgotten when a sender stops or goes quiet."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from engage.engine.asyncloop import LoopThread
from engage.engine.providers import KINDS
from engage.engine.providers.records import add_smpp
from engage.engine.providers.status import Heartbeat, read_status, upsert, worker_id
from engage.engine.store.schema import ProviderStatus

table = ProviderStatus.__table__
ROW = {"healthy": True, "binds_up": 2, "binds": 2, "in_flight": 3, "window": 32, "tps": 100.0, "submitted": 1000,
       "throttled": 10, "temporary_errors": 5, "permanent_errors": 2, "detail": {"kind": "smpp"}}


def _provider(engine, name: str = "sim", port: int = 2775, **kw) -> int:
    with engine.begin() as conn:
        return add_smpp(conn, name=name, host="127.0.0.1", port=port, system_id="engage", password="secret",
                        actor="test", **kw)


def _status(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r["name"]: r for r in read_status(conn)}


class SinkNobodyReads:
    async def receipt(self, provider_id, receipt) -> None: ...

    async def inbound(self, provider_id, sms) -> None: ...


@pytest.fixture
def bound_provider(engine, smsc):
    """A real SMPP provider connection, two binds to the simulator, on its own event loop."""
    provider_id = _provider(engine, port=smsc.port, binds=2, window=16)
    loop = LoopThread()
    provider = KINDS["smpp"](provider_id, "sim", {"host": "127.0.0.1", "port": smsc.port, "system_id": "engage",
                                                  "password": "secret", "binds": 2, "window": 16}, 1000,
                             SinkNobodyReads())
    loop.run(provider.start(), timeout=10)
    yield provider, loop
    loop.run(provider.stop(), timeout=10)
    loop.stop()


def test_the_worker_id_is_host_and_pid():
    host, pid = worker_id().rsplit(":", 1)
    assert host and int(pid) > 0


def test_upsert_keeps_one_row_per_provider_and_worker(engine):
    pid = _provider(engine)
    with engine.begin() as conn:
        upsert(conn, pid, "a:1", ROW)
        upsert(conn, pid, "a:1", {**ROW, "binds_up": 1})
        upsert(conn, pid, "b:2", ROW)
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.worker, table.c.binds_up).order_by(table.c.worker)).all()
    assert [tuple(r) for r in rows] == [("a:1", 1), ("b:2", 2)]


def test_status_sums_live_senders_and_computes_rates(engine):
    pid = _provider(engine)
    with engine.begin() as conn:
        upsert(conn, pid, "a:1", ROW)
        upsert(conn, pid, "b:2", {**ROW, "healthy": False, "binds_up": 0, "in_flight": 5})
    s = _status(engine)["sim"]
    assert s["healthy"] is True and s["workers"] == 2 and s["stale_workers"] == 0
    assert (s["binds_up"], s["binds"], s["in_flight"], s["window"]) == (2, 4, 8, 64)
    assert s["window_use"] == 0.125 and s["tps"] == 200.0
    assert s["error_rates"] == {"throttled": 0.01, "temporary": 0.005, "permanent": 0.002}
    assert 0 <= s["last_heartbeat_age"] < 5


def test_a_sender_silent_for_15_seconds_no_longer_makes_its_provider_healthy(engine):
    pid = _provider(engine)
    with engine.begin() as conn:
        upsert(conn, pid, "gone:1", ROW)
        old = conn.execute(select(func.now())).scalar()
        old = (old if isinstance(old, datetime) else datetime.fromisoformat(old)) - timedelta(seconds=20)
        conn.execute(update(table).values(updated_at=old.astimezone(UTC)))
    s = _status(engine)["sim"]
    assert s["healthy"] is False and s["workers"] == 0 and s["stale_workers"] == 1
    assert s["binds_up"] == 0 and s["tps"] == 0
    assert s["last_heartbeat_age"] >= 19


def test_a_provider_no_sender_has_reported_is_not_healthy(engine):
    _provider(engine, name="quiet")
    s = _status(engine)["quiet"]
    assert s["healthy"] is False and s["last_heartbeat_age"] is None and s["window_use"] is None
    assert s["error_rates"] == {"throttled": None, "temporary": None, "permanent": None}


def test_a_heartbeat_reports_binds_and_window_of_a_real_smpp_connection(engine, bound_provider):
    provider, loop = bound_provider
    Heartbeat(engine, [provider], loop=loop, worker="h:1").beat()
    s = _status(engine)["sim"]
    assert s["healthy"] is True and (s["binds_up"], s["binds"]) == (2, 2)
    assert s["window"] == 32 and s["in_flight"] == 0
    assert REGISTRY.get_sample_value("engage_provider_binds_up", {"provider": "sim"}) == 2


def test_tps_is_the_submitted_parts_delta_over_the_interval(engine, bound_provider):
    provider, loop = bound_provider
    times = iter([100.0, 102.0])
    beat = Heartbeat(engine, [provider], loop=loop, worker="h:1", clock=lambda: next(times))
    throttled_before = REGISTRY.get_sample_value("engage_throttled_total", {"provider": "sim"}) or 0
    beat.beat()
    provider.stats.submitted_parts += 300
    provider.stats.throttled += 4
    beat.beat()
    s = _status(engine)["sim"]
    assert s["tps"] == 150.0 and s["submitted"] == 300 and s["throttled"] == 4
    assert REGISTRY.get_sample_value("engage_provider_tps", {"provider": "sim"}) == 150.0
    assert REGISTRY.get_sample_value("engage_throttled_total", {"provider": "sim"}) == throttled_before + 4


def test_a_stopped_heartbeat_removes_its_rows_and_gauges(engine, bound_provider):
    provider, loop = bound_provider
    stop = threading.Event()
    beat = Heartbeat(engine, [provider], loop=loop, worker="h:1", interval=0.05)
    thread = threading.Thread(target=beat.run, args=(stop,))
    thread.start()
    try:
        for _ in range(100):
            if _status(engine)["sim"]["workers"]:
                break
            stop.wait(0.02)
        assert _status(engine)["sim"]["healthy"] is True
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 0
    assert REGISTRY.get_sample_value("engage_provider_binds_up", {"provider": "sim"}) is None


def test_an_event_loop_that_does_not_answer_shows_the_provider_unhealthy(engine, bound_provider):
    provider, loop = bound_provider
    blocked = threading.Event()
    loop.loop.call_soon_threadsafe(lambda: blocked.wait(2))  # the loop is stuck in a blocking call
    Heartbeat(engine, [provider], loop=loop, worker="h:1", interval=0.2).beat()
    blocked.set()
    with engine.connect() as conn:
        row = conn.execute(select(table)).one()
    assert row.healthy is False and row.detail["error"] == "event loop did not answer"


def test_a_provider_whose_status_cannot_be_read_is_reported_unhealthy(engine):
    pid = _provider(engine)
    never_started = KINDS["smpp"](pid, "sim", {"host": "127.0.0.1", "port": 1, "system_id": "a", "password": "p"},
                                  10, SinkNobodyReads())
    Heartbeat(engine, [never_started], worker="h:1").beat()
    with engine.connect() as conn:
        row = conn.execute(select(table)).one()
    assert row.healthy is False and row.detail["error"].startswith("status unavailable")
