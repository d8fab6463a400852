"""STOP texted over SMPP reaches engage through the provider's bind, the broker and the receipts
worker, and the recipient's campaign message is set aside: on the embedded default and on
PostgreSQL + RabbitMQ."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from engage.engine import statuses as st
from engage.engine.keywords.builtins import REPLIES
from engage.engine.store.schema import Message, OptOut, SendClaim, Subscriber
from engage.workers import runner
from tests.campaign_scenario import launch_campaign, wait_until_done
from tests.fixtures.backends import running_workers


def _wait_for_opt_out(engine, number: str, timeout: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            if conn.execute(select(OptOut.msisdn).where(OptOut.msisdn == number)).first() is not None:
                return
        assert time.monotonic() < deadline, f"{number} not opted out after {timeout} s"
        time.sleep(0.05)


def _stop_reply(engine, number: str) -> str:  # noqa: ANN001
    """The STOP confirmation in the subscriber's language."""
    with engine.connect() as conn:
        language = conn.execute(select(Subscriber.language).where(Subscriber.msisdn == number)).scalar()
    return REPLIES["STOP"][1][language or "en"]


def _texts_to(sim, number: str) -> list[str]:  # noqa: ANN001
    return [m.text for m in sim.messages() if m.destination.lstrip("+") == number.lstrip("+")]


def _wait_for_texts(sim, number: str, count: int, timeout: float = 60) -> list[str]:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while len(texts := _texts_to(sim, number)) < count:
        assert time.monotonic() < deadline, f"{number} got {texts} after {timeout} s"
        time.sleep(0.05)
    return texts


def test_a_recipient_who_texts_stop_gets_its_confirmation_and_not_the_running_campaign(backend, smsc_factory,
                                                                                        tmp_path):
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.02)
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 30)
    with engine.connect() as conn:
        number = conn.execute(select(Message.msisdn).where(Message.campaign_id == campaign_id)
                              .order_by(Message.id)).scalars().first()
    sim.deliver_mo(number.lstrip("+"), "1234", " Stop! ")
    stop = threading.Event()
    threads = runner.start(["receipts", "send"], engine, broker_url, stop)
    try:
        _wait_for_opt_out(engine, number)
        threads += runner.start(["dispatch"], engine, broker_url, stop)
        counts = wait_until_done(engine, campaign_id)
        texts = _wait_for_texts(sim, number, 1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert counts[st.OPTED_OUT] == 1 and counts[st.DELIVERED] == 26
    assert texts == [_stop_reply(engine, number)]
    assert {m.source for m in sim.messages() if m.destination.lstrip("+") == number.lstrip("+")} == {"1234"}


def _status(engine, message_id: int) -> str:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(Message.status).where(Message.id == message_id)).scalar_one()


def _claimed(engine, message_id: int) -> bool:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(SendClaim.batch_id).join(Message, Message.batch_id == SendClaim.batch_id)
                            .where(Message.id == message_id)).first() is not None


def test_stop_reaches_a_message_already_in_a_senders_claimed_batch(backend, smsc_factory, tmp_path):
    """At 30 submits a second the campaign's one batch is claimed at once and sent over four
    seconds: the last recipient's STOP arrives while their message waits in the sender."""
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.02)
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 120, tps=30)
    with engine.connect() as conn:
        last, number = conn.execute(select(Message.id, Message.msisdn).where(Message.campaign_id == campaign_id)
                                    .order_by(Message.id.desc())).first()
    with running_workers(engine, broker_url):
        deadline = time.monotonic() + 60
        while not _claimed(engine, last) or sim.counts()["accepted"] < 5:
            assert time.monotonic() < deadline, "the batch was not claimed and sending"
            time.sleep(0.01)
        sim.deliver_mo(number.lstrip("+"), "1234", "stop")
        counts = wait_until_done(engine, campaign_id)
        texts = _wait_for_texts(sim, number, 1)
    assert _status(engine, last) == st.OPTED_OUT
    assert counts[st.OPTED_OUT] == 1 and counts[st.DELIVERED] == 116
    # the confirmation passes the sender's hold on the number; the campaign's message does not
    assert texts == [_stop_reply(engine, number)]
