"""The dispatcher's batches: rendered, routed and priced in one pass, and held back while a
provider's queue is full, so RabbitMQ never fills up with work a slow provider cannot take."""

from __future__ import annotations

from sqlalchemy import event, select

from engage.engine.broker import connect
from engage.engine.broker.queues import send_queue
from engage.engine.delivery.dispatch import Dispatcher
from engage.engine.events import message_ids
from engage.engine.store.schema import Event, Message
from tests.campaign_scenario import launch_campaign


def _statuses(engine, campaign_id: int) -> set[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return set(conn.execute(select(Message.status).where(Message.campaign_id == campaign_id)).scalars())


def test_a_provider_whose_queue_is_full_gets_nothing_more_and_its_messages_wait_pending(engine, broker_url,
                                                                                       tmp_path):
    campaign_id = launch_campaign(engine, tmp_path, 2775, 20)
    broker = connect(broker_url)
    try:
        broker.declare(send_queue(1))
        broker.publish(send_queue(1), b"{}")  # one batch already waiting
        assert Dispatcher(engine, broker, max_queued_batches=1).run_once() == 0
        assert _statuses(engine, campaign_id) == {"pending"}
        broker.purge(send_queue(1))
        assert Dispatcher(engine, broker, max_queued_batches=1).run_once() == 17
        assert _statuses(engine, campaign_id) == {"queued"}
        assert broker.depth(send_queue(1)) == 1
    finally:
        broker.delete(send_queue(1))
        broker.close()


def test_a_dispatched_batch_is_one_queued_event_naming_its_messages(engine, broker_url, tmp_path):
    campaign_id = launch_campaign(engine, tmp_path, 2775, 20)
    broker = connect(broker_url)
    try:
        broker.declare(send_queue(1))
        assert Dispatcher(engine, broker).run_once() == 17
        with engine.connect() as conn:
            queued = conn.execute(select(Event.message_id, Event.data, Event.message_count).where(
                Event.kind == "queued")).all()
            ids = set(conn.execute(select(Message.id).where(Message.campaign_id == campaign_id)).scalars())
    finally:
        broker.delete(send_queue(1))
        broker.close()
    assert [(set(message_ids(e)), e.message_count) for e in queued] == [(ids, 17)]


def test_while_every_queue_is_full_no_batch_is_read_for_nothing(engine, broker_url, tmp_path):
    launch_campaign(engine, tmp_path, 2775, 20)
    broker = connect(broker_url)
    statements = []
    listener = lambda conn, cursor, sql, *rest: statements.append(sql)  # noqa: E731
    try:
        broker.declare(send_queue(1))
        broker.publish(send_queue(1), b"{}")
        event.listen(engine, "before_cursor_execute", listener)
        assert Dispatcher(engine, broker, max_queued_batches=1).run_once() == 0
        assert statements and not [s for s in statements if "FROM messages" in s]
    finally:
        event.remove(engine, "before_cursor_execute", listener)
        broker.delete(send_queue(1))
        broker.close()
