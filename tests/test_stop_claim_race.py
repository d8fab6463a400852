"""STOP and a sender reaching one queued message at the same moment, on PostgreSQL (SQLite lets one
writer at a time): exactly one of them has it. Either the sender claims it and sends it, and STOP
leaves it to the sender, or STOP sets it aside and the sender's claim does not take it. Never both,
or a message that went out is counted as set aside (`engage bench stop` caught one under load)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import pytest
from sqlalchemy import Engine, select, update

from engage.engine import statuses as st
from engage.engine.delivery.submits import claim, take_batches
from engage.engine.keywords.actions import set_aside
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import Message
from tests.campaign_setup import bare_messages

NUMBER = "+998901234560"  # bare_messages' first recipient
BATCH = "b-race"


@pytest.fixture
def queued(postgres_url: str) -> Iterator[tuple[Engine, int]]:
    """(engine, the id of one message queued in batch BATCH, published, no sender has claimed it yet)."""
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    [message] = bare_messages(engine, 1, status=st.QUEUED)
    with engine.begin() as conn:
        conn.execute(update(Message).where(Message.id == message).values(batch_id=BATCH))
    yield engine, message
    engine.dispose()


def _status(engine: Engine, message: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(Message.status).where(Message.id == message)).scalar_one()


def test_a_sender_claiming_while_stop_is_setting_the_message_aside_does_not_take_it(queued):
    engine, message = queued
    stop = engine.connect()
    stop.begin()
    assert set_aside(stop, [NUMBER]) == {NUMBER: 1}  # the STOP handler's transaction, not committed yet
    with ThreadPoolExecutor(1) as pool:
        claiming = pool.submit(claim, engine, 1, [message], BATCH)
        with pytest.raises(FutureTimeout):
            claiming.result(timeout=0.5)  # the claim waits for the STOP's transaction
        stop.commit()
        taken = claiming.result(timeout=10)
    stop.close()
    assert (taken, _status(engine, message)) == (set(), st.OPTED_OUT)


def test_stop_while_a_sender_is_claiming_the_batch_leaves_the_message_to_the_sender(queued):
    engine, message = queued
    sender = engine.connect()
    sender.begin()
    assert take_batches(sender, 1, [BATCH]) == {BATCH}  # the sender's claim, not committed yet

    def stop() -> dict[str, int]:
        with engine.begin() as conn:
            return set_aside(conn, [NUMBER])
    with ThreadPoolExecutor(1) as pool:
        stopping = pool.submit(stop)
        with pytest.raises(FutureTimeout):
            stopping.result(timeout=0.5)  # STOP waits for the sender's claim
        sender.commit()
        aside = stopping.result(timeout=10)
    sender.close()
    assert (aside, _status(engine, message)) == ({}, st.QUEUED)
