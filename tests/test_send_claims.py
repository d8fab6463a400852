"""Send batches are claimed once per batch (send_claims), and the sweeper gives back the work of
dead senders as new batches: every message goes out once, whichever copy of a batch turns up."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text, update

from engage import config
from engage.engine import statuses as st
from engage.engine.broker import Broker, connect
from engage.engine.broker.queues import send_queue
from engage.engine.delivery import batches
from engage.engine.delivery.dispatch import Dispatcher
from engage.engine.delivery.submits import claim
from engage.engine.delivery.sweeper import sweep
from engage.engine.store.schema import Message, SendClaim
from tests.campaign_scenario import launch_campaign

N = 12  # recipients launched (3 of them opted out)


@pytest.fixture
def broker(broker_url: str) -> Iterator[Broker]:
    b = connect(broker_url)
    b.declare(send_queue(1))
    yield b
    b.delete(send_queue(1))
    b.close()


@pytest.fixture
def dispatched(engine: Engine, broker: Broker, tmp_path) -> batches.SendBatch:  # noqa: ANN001
    """One campaign dispatched: its batch taken off the queue, as a sender receives it."""
    launch_campaign(engine, tmp_path, 2775, N)
    assert Dispatcher(engine, broker).run_once() == N - 3
    [body] = _drain(broker)
    return batches.decode(body)


def _drain(broker: Broker) -> list[bytes]:
    bodies = []
    for delivery in broker.consume(send_queue(1), idle_timeout=0.3):
        if delivery is None:
            return bodies
        bodies.append(delivery.body)
        delivery.ack()
    return bodies


def _ids(batch: batches.SendBatch) -> list[int]:
    return [m.id for m in batch.messages]


def _settings(**changes: float) -> config.Settings:
    return dataclasses.replace(config.load(), **changes)


def _age_claims(engine: Engine, seconds: int) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"UPDATE send_claims SET claimed_at = now() - interval '{seconds} seconds'"))
        else:
            conn.execute(text(f"UPDATE send_claims SET claimed_at = datetime('now', '-{seconds} seconds')"))


def test_every_message_of_a_dispatched_batch_carries_its_batch_id(engine: Engine, dispatched) -> None:  # noqa: ANN001
    assert dispatched.batch_id
    with engine.connect() as conn:
        assert set(conn.execute(select(Message.batch_id).where(Message.id.in_(_ids(dispatched)))).scalars()) \
            == {dispatched.batch_id}


def test_a_batch_delivered_twice_is_claimed_by_the_first_sender_only(engine: Engine, dispatched) -> None:  # noqa: ANN001
    first = claim(engine, 1, _ids(dispatched), dispatched.batch_id)
    second = claim(engine, 1, _ids(dispatched), dispatched.batch_id)
    assert first == set(_ids(dispatched))
    assert second == set()


def test_a_claim_takes_only_the_messages_still_queued_in_that_batch(engine: Engine, dispatched) -> None:  # noqa: ANN001
    moved, submitted, *rest = _ids(dispatched)
    with engine.begin() as conn:
        conn.execute(update(Message).where(Message.id == moved).values(batch_id="another"))
        conn.execute(update(Message).where(Message.id == submitted).values(status=st.SUBMITTED))
    assert claim(engine, 1, _ids(dispatched), dispatched.batch_id) == set(rest)


def test_the_sweeper_republishes_what_a_dead_sender_left_queued_as_a_new_batch(engine: Engine, broker: Broker,
                                                                               dispatched) -> None:  # noqa: ANN001
    sent, *unsent = _ids(dispatched)
    claim(engine, 1, _ids(dispatched), dispatched.batch_id)
    with engine.begin() as conn:  # the sender recorded one message, then died
        conn.execute(update(Message).where(Message.id == sent).values(status=st.SUBMITTED))
    _age_claims(engine, 120)
    report = sweep(engine, broker, _settings(send_lease=60.0))
    assert report.reclaimed == len(unsent)
    [body] = _drain(broker)
    again = batches.decode(body)
    assert sorted(_ids(again)) == sorted(unsent)
    assert again.batch_id != dispatched.batch_id
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SendClaim)).scalar() == 0
    # the dead sender's batch, redelivered late, finds its messages gone to the new batch
    assert claim(engine, 1, _ids(dispatched), dispatched.batch_id) == set()
    assert claim(engine, 1, _ids(again), again.batch_id) == set(unsent)


def test_the_sweeper_leaves_a_batch_alone_while_its_claim_is_younger_than_the_lease(
        engine: Engine, broker: Broker, dispatched) -> None:  # noqa: ANN001
    claim(engine, 1, _ids(dispatched), dispatched.batch_id)
    _age_claims(engine, 45)  # older than republish_after, younger than the lease
    report = sweep(engine, broker, _settings(send_lease=60.0, republish_after=30.0))
    assert (report.reclaimed, report.republished) == (0, 0)
    assert _drain(broker) == []


def test_queued_messages_of_a_batch_nobody_claimed_are_republished_once_their_queue_is_empty(
        engine: Engine, broker: Broker, dispatched) -> None:  # noqa: ANN001
    with engine.begin() as conn:  # the batch was lost with the broker's memory long ago
        stale = func.now() - text("interval '1 hour'") if engine.dialect.name == "postgresql" \
            else func.datetime("now", "-1 hour")
        conn.execute(update(Message).where(Message.id.in_(_ids(dispatched))).values(queued_at=stale))
    report = sweep(engine, broker, _settings(republish_after=30.0))
    assert report.republished == len(_ids(dispatched))
    [body] = _drain(broker)
    assert json.loads(body)["batch"] == dispatched.batch_id  # so only one copy can be claimed
