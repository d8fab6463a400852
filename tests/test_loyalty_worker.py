"""The loyalty worker: usage batches through the broker (in-process and RabbitMQ) scored into points,
a replayed batch scoring nothing, bad records and bad batches parked with their reasons."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from engage.engine import dead_letters
from engage.engine.broker import connect
from engage.engine.loyalty import feed, ledger, members, programmes, rules
from engage.engine.store.schema import LoyaltyMember, Subscriber
from engage.workers import runner

NUMBER = "+998900000001"


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


@pytest.fixture
def club(engine) -> int:  # noqa: ANN001
    """The member id of NUMBER in programme "club", whose rule gives 10 points per 100 call minutes."""
    with engine.begin() as conn:
        sid = conn.execute(insert(Subscriber).values(msisdn=NUMBER).returning(Subscriber.id)).scalar_one()
        club = programmes.create(conn, "club", "Club")
        rules.create(conn, club.id, "calls", "Calls", {"kind": "call_out", "every": 100, "points": 10}, actor="t",
                     valid_from=datetime(2026, 1, 1, tzinfo=UTC))
        members.enrol(conn, club.id, [sid], "api")
        return conn.execute(select(LoyaltyMember.id)).scalar_one()


@pytest.fixture
def publish(engine, broker_url, monkeypatch) -> Iterator[Callable[[bytes], None]]:  # noqa: ANN001
    """The loyalty worker running on this database and broker; call it to publish a message."""
    monkeypatch.setenv("ENGAGE_QUEUE_PREFIX", f"test-{uuid.uuid4().hex[:8]}")
    broker = connect(broker_url)
    broker.declare(feed.usage_queue())
    stop = threading.Event()
    threads = runner.start(["loyalty"], engine, broker_url, stop)
    try:
        yield lambda body: broker.publish(feed.usage_queue(), body)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        broker.delete(feed.usage_queue())
        broker.close()


def batch(*records: dict, programme: str = "club") -> bytes:
    return json.dumps({"programme": programme, "source": "cdr", "records": list(records)}).encode()


def call(ref: str, minutes: float, number: str = NUMBER) -> dict:
    return {"ref": ref, "msisdn": number, "kind": "call_out", "at": "2026-12-01T10:00:00Z", "amount": minutes}


def available(engine, member: int) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return ledger.balance(conn, member).available


def parked(broker_url: str, n: int) -> list[dict]:
    seen: list[dict] = []
    with connect(broker_url) as broker:
        def enough() -> bool:
            seen[:] = dead_letters.peek(broker, feed.usage_queue())
            return len(seen) >= n
        eventually(enough)
    return seen


def test_a_usage_batch_through_the_broker_becomes_points(engine, club, publish) -> None:  # noqa: ANN001
    publish(batch(call("c1", 250), call("c2", 50)))
    eventually(lambda: available(engine, club) == 30)


def test_a_batch_delivered_twice_scores_once(engine, club, publish) -> None:  # noqa: ANN001
    publish(batch(call("c1", 250)))
    publish(batch(call("c1", 250), call("c2", 100)))
    eventually(lambda: available(engine, club) == 30)
    publish(batch(call("c1", 250), call("c2", 100)))
    publish(batch(call("c3", 100)))  # after the replay: once it is scored, the replay was
    eventually(lambda: available(engine, club) == 40)


def test_a_bad_record_is_parked_with_its_reason_and_the_rest_of_its_batch_scores(engine, club, publish,  # noqa: ANN001
                                                                                  broker_url) -> None:
    publish(batch(call("c1", 100), call("c2", 100, number="12345")))
    [dead] = parked(broker_url, 1)
    assert "record 2: msisdn" in dead["reason"]
    assert '"ref": "c2"' in dead["preview"] and '"c1"' not in dead["preview"]
    assert available(engine, club) == 10


def test_a_batch_for_no_programme_is_parked_whole(engine, club, publish, broker_url) -> None:  # noqa: ANN001
    publish(batch(call("c1", 100), programme="nope"))
    [dead] = parked(broker_url, 1)
    assert "programme" in dead["reason"]
    assert available(engine, club) == 0
