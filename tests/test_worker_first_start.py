"""A worker's first start on a new RabbitMQ (queues nobody declared yet) on PostgreSQL logs nothing
at WARNING or above from its start until it is ready and through its stop: no failed passive
declares of queues that do not exist yet, no reconnections. Each kind of worker the code has
(engage.workers.runner.WORKERS) is started as `engage -v worker <kind>`, as an operator would."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pika
import pytest
from sqlalchemy import select

from engage.engine.broker import connect
from engage.engine.broker.queues import receipts_queue, send_queue
from engage.engine.providers.records import add_smpp
from engage.engine.store.database import make_engine
from engage.engine.store.schema import Provider
from engage.workers.runner import WORKERS
from tests.fixtures.databases import drop_postgres, fresh_postgres_url

ALARMING = re.compile(r" (WARNING|ERROR|CRITICAL) |Traceback")


class Log:
    """A process's standard error, line by line as it comes."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(re.search(pattern, line) for line in self.lines):
                remaining = deadline - time.monotonic()
                assert remaining > 0 and self.proc.poll() is None, \
                    f"no line matching {pattern!r} (exit code {self.proc.poll()}):\n" + "\n".join(self.lines)
                self._cond.wait(min(remaining, 0.5))

    def finish(self) -> list[str]:
        self._reader.join(timeout=30)
        return self.lines


def consumers(amqp_url: str, queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return conn.channel().queue_declare(queue, passive=True).method.consumer_count
    except pika.exceptions.ChannelClosedByBroker:  # not declared yet
        return 0
    finally:
        conn.close()


def wait_for_consumer(amqp_url: str, queue: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while consumers(amqp_url, queue) < 1:
        assert time.monotonic() < deadline, f"nobody consumes {queue}"
        time.sleep(0.1)


@pytest.fixture
def new_database(rabbitmq_url, monkeypatch) -> Iterator[tuple[dict[str, str], str]]:
    """A migrated PostgreSQL database without providers, and queue names RabbitMQ has never seen;
    (the workers' environment, the database's URL)."""
    monkeypatch.setenv("ENGAGE_QUEUE_PREFIX", f"first{uuid.uuid4().hex[:8]}")
    name, url = fresh_postgres_url(migrated=True)
    yield {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": rabbitmq_url}, url
    engine = make_engine(url)
    with engine.connect() as conn:
        provider_ids = conn.execute(select(Provider.id)).scalars().all()
    engine.dispose()
    with connect(rabbitmq_url) as broker:
        for queue in (receipts_queue(), *(send_queue(i) for i in provider_ids)):
            broker.delete(queue)
    drop_postgres(name)


def add_simulator(url: str, port: int) -> int:
    engine = make_engine(url)
    with engine.begin() as conn:
        provider_id = add_smpp(conn, name="sim", host="127.0.0.1", port=port, system_id="engage",
                               password="secret", tps=100, binds=1, window=8, actor="test")
    engine.dispose()
    return provider_id


@pytest.fixture
def new_stack(new_database, smsc) -> tuple[dict[str, str], int]:
    """The new database with one SMPP provider, the SMSC simulator."""
    env, url = new_database
    return env, add_simulator(url, smsc.port)


def start_worker(kind: str, env: dict[str, str]) -> tuple[subprocess.Popen, Log]:
    proc = subprocess.Popen([sys.executable, "-m", "engage.cli", "-v", "worker", kind], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc, Log(proc)


def stop_worker(proc: subprocess.Popen, log: Log) -> list[str]:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    return log.finish()


@pytest.mark.parametrize("kind", sorted(WORKERS))
def test_a_workers_first_start_on_a_new_broker_logs_no_warning(kind, new_stack, rabbitmq_url):
    env, provider_id = new_stack
    proc, log = start_worker(kind, env)
    try:
        log.wait_for(rf" INFO engage\.workers\.{kind}: ready")
        consumed = {"receipts": receipts_queue(), "send": send_queue(provider_id)}.get(kind)
        if consumed is not None:  # its consumer subscribes once ready: through that too
            wait_for_consumer(rabbitmq_url, consumed)
    finally:
        lines = stop_worker(proc, log)

    assert proc.returncode == 0, "\n".join(lines)
    assert not [line for line in lines if ALARMING.search(line)], "\n".join(lines)


def test_a_send_worker_started_before_any_provider_takes_up_the_first_one_added(new_database, smsc,
                                                                                 rabbitmq_url):
    env, url = new_database
    proc, log = start_worker("send", env)
    try:
        log.wait_for(r" WARNING engage\.workers\.send: no enabled provider yet; waiting for one")
        provider_id = add_simulator(url, smsc.port)
        log.wait_for(r" INFO engage\.workers\.send: ready: sim$")
        wait_for_consumer(rabbitmq_url, send_queue(provider_id))
    finally:
        lines = stop_worker(proc, log)

    assert proc.returncode == 0, "\n".join(lines)
