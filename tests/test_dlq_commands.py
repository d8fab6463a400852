"""`engage dlq list|replay`: what went to the dead-letter queues, why, and putting it back to work.
Run on both brokers in-process, and as a real command against RabbitMQ."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import select

from engage.cli import main
from engage.engine.broker import REPLAYS_HEADER, connect, dead_letter_queue
from engage.engine.broker.queues import loyalty_usage_queue, receipts_queue, send_queue
from engage.engine.providers.records import add_smpp
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import AuditEntry
from tests.fixtures.brokers import reject_all, take

BATCH = {"provider_id": 1, "campaign_id": 7, "password": "never-shown",
         "messages": [{"id": i, "to": f"+99890123456{i}", "from": "Engage", "text": "hi"} for i in range(5)]}


@pytest.fixture
def site(tmp_path, broker_url, monkeypatch):
    """A SQLite database with one provider, the broker under test, and queue names no other test uses."""
    url = f"sqlite:///{tmp_path / 'engage.db'}"
    upgrade(url)
    engine = make_engine(url)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    for key, value in {"ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": broker_url,
                       "ENGAGE_QUEUE_PREFIX": prefix}.items():
        monkeypatch.setenv(key, value)
    with engine.begin() as conn:
        pid = add_smpp(conn, name="sim", host="127.0.0.1", port=2775, system_id="a", password="pw", actor="t")
    broker = connect(broker_url)
    yield engine, broker, pid
    for queue in (receipts_queue(), send_queue(pid), loyalty_usage_queue()):
        broker.delete(queue)
    broker.close()
    engine.dispose()


def dead_letters(broker, queue: str, n: int, reason: str = "malformed send batch: 'messages'",
                 body: dict | None = None) -> None:
    for _ in range(n):
        broker.publish(queue, json.dumps(body or BATCH).encode(), {"x-batch": "b1"})
    reject_all(broker, queue, n, reason)


def run(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def test_list_shows_each_queue_with_dead_letters_and_how_many(site, capsys):
    _, broker, pid = site
    dead_letters(broker, send_queue(pid), 3)
    dead_letters(broker, receipts_queue(), 1, "malformed receipt batch")
    code, out, _ = run(capsys, "dlq", "list")
    assert code == 0
    assert out == [{"queue": receipts_queue(), "dead_letters": 1}, {"queue": send_queue(pid), "dead_letters": 3}]


def test_refused_usage_batches_of_the_loyalty_worker_are_listed_too(site, capsys):
    _, broker, _ = site
    dead_letters(broker, loyalty_usage_queue(), 2, "not a usage batch", body={"records": "none"})
    assert run(capsys, "dlq", "list")[1] == [{"queue": loyalty_usage_queue(), "dead_letters": 2}]
    assert len(run(capsys, "dlq", "list", "loyalty.usage")[1]) == 2


def test_list_says_so_when_there_are_none(site, capsys):
    code, out, err = run(capsys, "dlq", "list")
    assert code == 0 and out == [] and "no dead letters" in err


def test_list_of_a_queue_shows_reason_headers_and_a_safe_preview(site, capsys):
    _, broker, pid = site
    dead_letters(broker, send_queue(pid), 2)
    code, out, _ = run(capsys, "dlq", "list", send_queue(pid))
    assert code == 0 and len(out) == 2
    letter = out[0]
    assert letter["reason"] == "malformed send batch: 'messages'" and letter["queue"] == send_queue(pid)
    assert letter["headers"] == {"x-batch": "b1"} and letter["bytes"] == len(json.dumps(BATCH))
    assert "never-shown" not in letter["preview"] and '"password": "***"' in letter["preview"]
    assert "+998901234560" not in letter["preview"] and "+99890*****60" in letter["preview"]
    assert "... 2 more" in letter["preview"] and len(letter["preview"]) <= 300


def test_listing_leaves_the_dead_letters_where_they_are(site, capsys):
    _, broker, pid = site
    dead_letters(broker, send_queue(pid), 3)
    assert len(run(capsys, "dlq", "list", send_queue(pid), "--limit", "2")[1]) == 2
    assert run(capsys, "dlq", "list")[1] == [{"queue": send_queue(pid), "dead_letters": 3}]


def test_a_queue_may_be_named_without_prefix_or_by_its_dead_letter_queue(site, capsys):
    _, broker, pid = site
    dead_letters(broker, send_queue(pid), 1)
    assert len(run(capsys, "dlq", "list", f"send.{pid}")[1]) == 1
    assert len(run(capsys, "dlq", "list", dead_letter_queue(send_queue(pid)))[1]) == 1


def test_replay_moves_dead_letters_back_to_work_and_is_audited(site, capsys):
    engine, broker, pid = site
    dead_letters(broker, send_queue(pid), 3)
    code, out, _ = run(capsys, "dlq", "replay", send_queue(pid))
    assert code == 0 and out == [{"queue": send_queue(pid), "replayed": 3}]
    assert broker.depth(dead_letter_queue(send_queue(pid))) == 0
    consumer = broker.consume(send_queue(pid), prefetch=3, idle_timeout=0.05)
    replayed = take(consumer, 3)
    assert all(d.headers[REPLAYS_HEADER] == 1 and json.loads(d.body) == BATCH for d in replayed)
    for d in replayed:
        d.ack()
    consumer.close()
    with engine.connect() as conn:
        entry = conn.execute(select(AuditEntry.__table__).where(AuditEntry.action == "dlq.replay")).one()
    assert entry.object_id == send_queue(pid) and entry.details["replayed"] == 3 and entry.actor.startswith("cli:")


def test_replay_with_a_limit_moves_only_that_many(site, capsys):
    _, broker, pid = site
    dead_letters(broker, send_queue(pid), 3)
    assert run(capsys, "dlq", "replay", send_queue(pid), "--limit", "2")[1][0]["replayed"] == 2
    assert broker.depth(dead_letter_queue(send_queue(pid))) == 1


def test_the_commands_work_against_rabbitmq_from_another_process(tmp_path, rabbitmq_url):
    url = f"sqlite:///{tmp_path / 'engage.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        pid = add_smpp(conn, name="sim", host="127.0.0.1", port=2775, system_id="a", password="pw", actor="t")
    env = {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": rabbitmq_url,
           "ENGAGE_QUEUE_PREFIX": f"t{uuid.uuid4().hex[:8]}"}
    queue = f"{env['ENGAGE_QUEUE_PREFIX']}.send.{pid}"
    engage = [sys.executable, "-m", "engage.cli", "dlq"]
    with connect(rabbitmq_url) as broker:
        try:
            dead_letters(broker, queue, 2, "provider 1: unknown message format")
            listed = subprocess.run([*engage, "list"], env=env, capture_output=True, text=True, timeout=60)
            assert json.loads(listed.stdout) == {"queue": queue, "dead_letters": 2}, listed.stderr
            shown = subprocess.run([*engage, "list", queue], env=env, capture_output=True, text=True, timeout=60)
            assert [json.loads(line)["reason"] for line in shown.stdout.splitlines()] == [
                "provider 1: unknown message format"] * 2
            replayed = subprocess.run([*engage, "replay", queue], env=env, capture_output=True, text=True,
                                      timeout=60)
            assert json.loads(replayed.stdout) == {"queue": queue, "replayed": 2}, replayed.stderr
            assert broker.depth(queue) == 2 and broker.depth(dead_letter_queue(queue)) == 0
        finally:
            broker.delete(queue)
            engine.dispose()
