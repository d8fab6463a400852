"""The broker contract, specified once and checked on both adapters (memory:// and RabbitMQ)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pika
import pytest

from engage.engine.broker import (
    ORIGIN_HEADER,
    REASON_HEADER,
    REPLAYS_HEADER,
    Broker,
    BrokerError,
    connect,
    dead_letter_queue,
    memory,
)
from tests.fixtures.brokers import publish_numbered, reject_all, take, wait_for_depth

IDLE = 0.05


def test_a_published_message_is_consumed_with_its_body(broker: Broker, queue_name: str) -> None:
    broker.publish(queue_name, b'{"batch": 1}')
    [delivery] = take(broker.consume(queue_name, idle_timeout=IDLE), 1)

    assert (delivery.body, delivery.queue, delivery.redelivered) == (b'{"batch": 1}', queue_name, False)


def test_headers_round_trip_unchanged(broker: Broker, queue_name: str) -> None:
    headers = {"campaign": "c-1", "batch": 7, "big": 2**40, "urgent": True, "none": None,
               "ids": [1, "two"], "meta": {"k": "v"}, "raw": b"\x00\xff", "name": "Zoë"}
    broker.publish(queue_name, b"x", headers)
    [delivery] = take(broker.consume(queue_name, idle_timeout=IDLE), 1)

    assert delivery.headers == headers
    assert type(delivery.headers["big"]) is int


def test_messages_are_delivered_in_publish_order(broker: Broker, queue_name: str) -> None:
    publish_numbered(broker, queue_name, 20)
    deliveries = take(broker.consume(queue_name, prefetch=20, idle_timeout=IDLE), 20)

    assert [d.body for d in deliveries] == [f"m{i}".encode() for i in range(20)]


def test_declare_is_idempotent_and_keeps_messages(broker: Broker, queue_name: str) -> None:
    broker.declare(queue_name)
    broker.publish(queue_name, b"x")
    broker.declare(queue_name)

    assert broker.depth(queue_name) == 1


def test_a_body_that_is_not_bytes_is_refused(broker: Broker, queue_name: str) -> None:
    with pytest.raises(TypeError, match="bytes"):
        broker.publish(queue_name, '{"batch": 1}')  # type: ignore[arg-type]


def test_a_header_that_would_not_survive_amqp_is_refused(broker: Broker, queue_name: str) -> None:
    with pytest.raises(TypeError, match="price"):
        broker.publish(queue_name, b"x", {"price": 0.05})


def test_a_thousand_confirmed_publishes_of_10_kb_all_reach_the_queue(broker: Broker, queue_name: str) -> None:
    """How fast they go is `engage bench send`'s to measure; here, that none is lost on the way."""
    broker.declare(queue_name)
    for _ in range(1000):
        broker.publish(queue_name, b"x" * 10_240)

    assert broker.depth(queue_name) == 1000


def test_two_broker_objects_on_one_url_share_queues(broker_url: str, queue_name: str) -> None:
    with connect(broker_url) as producer, connect(broker_url) as consumer:
        producer.publish(queue_name, b"hello")
        [delivery] = take(consumer.consume(queue_name, idle_timeout=IDLE), 1)

    assert delivery.body == b"hello"


def test_consume_yields_none_when_idle(broker: Broker, queue_name: str) -> None:
    consumer = broker.consume(queue_name, idle_timeout=IDLE)
    started = time.monotonic()
    assert next(consumer) is None
    assert next(consumer) is None
    assert time.monotonic() - started < 2.0


def test_no_more_than_prefetch_deliveries_are_unacked_at_once(broker: Broker, queue_name: str) -> None:
    publish_numbered(broker, queue_name, 5)
    consumer = broker.consume(queue_name, prefetch=2, idle_timeout=0.2)
    take(consumer, 2)

    assert next(consumer) is None


def test_an_ack_lets_the_next_message_through_a_full_prefetch(broker: Broker, queue_name: str) -> None:
    publish_numbered(broker, queue_name, 5)
    consumer = broker.consume(queue_name, prefetch=2, idle_timeout=IDLE)
    first, _second = take(consumer, 2)
    first.ack()

    [third] = take(consumer, 1)
    assert third.body == b"m2"


def test_an_acked_message_is_gone(broker: Broker, queue_name: str) -> None:
    broker.publish(queue_name, b"x")
    consumer = broker.consume(queue_name, idle_timeout=IDLE)
    take(consumer, 1)[0].ack()

    assert next(consumer) is None
    consumer.close()
    wait_for_depth(broker, queue_name, 0)


def test_a_requeued_message_comes_back_marked_redelivered(broker: Broker, queue_name: str) -> None:
    broker.publish(queue_name, b"x")
    consumer = broker.consume(queue_name, idle_timeout=IDLE)
    take(consumer, 1)[0].requeue()

    [again] = take(consumer, 1)
    assert (again.body, again.redelivered) == (b"x", True)


def test_settling_a_delivery_twice_is_an_error(broker: Broker, queue_name: str) -> None:
    broker.publish(queue_name, b"x")
    consumer = broker.consume(queue_name, idle_timeout=IDLE)
    [delivery] = take(consumer, 1)
    delivery.ack()

    with pytest.raises(BrokerError, match="already settled"):
        delivery.ack()


def test_unacked_deliveries_return_when_the_consumer_is_closed(broker: Broker, queue_name: str) -> None:
    publish_numbered(broker, queue_name, 3)
    consumer = broker.consume(queue_name, prefetch=3, idle_timeout=IDLE)
    take(consumer, 2)
    consumer.close()

    again = take(broker.consume(queue_name, prefetch=3, idle_timeout=IDLE), 3)
    assert sorted(d.body for d in again) == [b"m0", b"m1", b"m2"]
    assert sorted((d.body, d.redelivered) for d in again)[:2] == [(b"m0", True), (b"m1", True)]


def test_acking_after_the_consumer_closed_is_an_error(broker: Broker, queue_name: str) -> None:
    broker.publish(queue_name, b"x")
    consumer = broker.consume(queue_name, idle_timeout=IDLE)
    [delivery] = take(consumer, 1)
    consumer.close()

    with pytest.raises(BrokerError, match="no longer held"):
        delivery.ack()


def test_unacked_deliveries_return_when_the_broker_is_closed(broker_url: str, queue_name: str) -> None:
    first = connect(broker_url)
    first.publish(queue_name, b"x")
    consumer = first.consume(queue_name, idle_timeout=IDLE)
    take(consumer, 1)
    first.close()

    with connect(broker_url) as second:
        [again] = take(second.consume(queue_name, idle_timeout=IDLE), 1)
        assert (again.body, again.redelivered) == (b"x", True)


def test_a_closed_broker_refuses_work(broker_url: str, queue_name: str) -> None:
    closed = connect(broker_url)
    closed.close()

    with pytest.raises(BrokerError, match="closed"):
        closed.publish(queue_name, b"x")


def test_consuming_a_deleted_queue_is_an_error(broker: Broker, broker_url: str, queue_name: str) -> None:
    consumer = broker.consume(queue_name, idle_timeout=IDLE)
    assert next(consumer) is None
    with connect(broker_url) as admin:
        admin.delete(queue_name)

    with pytest.raises(BrokerError, match="deleted"):
        take(consumer, 1)


def test_a_rejected_message_lands_in_the_dead_letter_queue_with_its_reason(
    broker: Broker, queue_name: str
) -> None:
    broker.publish(queue_name, b"x", {"campaign": "c-1"})
    reject_all(broker, queue_name, 1, reason="template missing")

    wait_for_depth(broker, queue_name, 0)
    [dead] = broker.dead_letters(queue_name)
    assert dead.body == b"x"
    assert dead.headers == {"campaign": "c-1", REASON_HEADER: "template missing", ORIGIN_HEADER: queue_name}
    assert dead.queue == dead_letter_queue(queue_name)


def test_an_acked_dead_letter_is_dropped(broker: Broker, queue_name: str) -> None:
    broker.publish(queue_name, b"x")
    reject_all(broker, queue_name, 1)
    broker.dead_letters(queue_name)[0].ack()

    wait_for_depth(broker, dead_letter_queue(queue_name), 0)
    assert broker.dead_letters(queue_name) == []


def test_a_requeued_dead_letter_stays_in_the_dead_letter_queue(broker: Broker, queue_name: str) -> None:
    broker.publish(queue_name, b"x")
    reject_all(broker, queue_name, 1)
    broker.dead_letters(queue_name)[0].requeue()

    wait_for_depth(broker, dead_letter_queue(queue_name), 1)


def test_dead_letters_returns_at_most_limit(broker: Broker, queue_name: str) -> None:
    publish_numbered(broker, queue_name, 3)
    reject_all(broker, queue_name, 3)

    assert len(broker.dead_letters(queue_name, limit=2)) == 2


def test_held_dead_letters_return_when_the_broker_is_closed(broker_url: str, queue_name: str) -> None:
    with connect(broker_url) as tool:
        tool.publish(queue_name, b"x")
        reject_all(tool, queue_name, 1)
        assert len(tool.dead_letters(queue_name)) == 1
        assert tool.depth(dead_letter_queue(queue_name)) == 0

    with connect(broker_url) as after:
        wait_for_depth(after, dead_letter_queue(queue_name), 1)


def test_replay_moves_dead_letters_back_to_the_queue(broker: Broker, queue_name: str) -> None:
    publish_numbered(broker, queue_name, 3)
    reject_all(broker, queue_name, 3)
    assert broker.replay_dead_letters(queue_name) == 3

    assert broker.depth(dead_letter_queue(queue_name)) == 0
    assert broker.depth(queue_name) == 3


def test_a_replayed_message_loses_its_reason_and_counts_the_replay(broker: Broker, queue_name: str) -> None:
    broker.publish(queue_name, b"x", {"campaign": "c-1"})
    reject_all(broker, queue_name, 1)
    broker.replay_dead_letters(queue_name)

    [replayed] = take(broker.consume(queue_name, idle_timeout=IDLE), 1)
    assert replayed.headers == {"campaign": "c-1", REPLAYS_HEADER: 1}


def test_replay_moves_at_most_limit(broker: Broker, queue_name: str) -> None:
    publish_numbered(broker, queue_name, 3)
    reject_all(broker, queue_name, 3)
    assert broker.replay_dead_letters(queue_name, limit=2) == 2

    assert broker.depth(dead_letter_queue(queue_name)) == 1


def test_depth_counts_ready_messages_only(broker: Broker, queue_name: str) -> None:
    publish_numbered(broker, queue_name, 3)
    consumer = broker.consume(queue_name, prefetch=1, idle_timeout=IDLE)
    take(consumer, 1)

    wait_for_depth(broker, queue_name, 2)


def test_depth_of_a_missing_queue_is_zero(broker: Broker, queue_name: str) -> None:
    assert broker.depth(queue_name) == 0


def test_purge_drops_ready_messages_and_counts_them(broker: Broker, queue_name: str) -> None:
    publish_numbered(broker, queue_name, 4)
    assert broker.purge(queue_name) == 4

    assert broker.depth(queue_name) == 0


def test_delete_removes_the_queue_and_its_dead_letter_queue(broker: Broker, queue_name: str) -> None:
    broker.publish(queue_name, b"x")
    reject_all(broker, queue_name, 1)
    broker.publish(queue_name, b"y")
    broker.delete(queue_name)

    assert broker.depth(queue_name) == 0
    assert broker.depth(dead_letter_queue(queue_name)) == 0


def test_two_consumers_share_the_work_without_duplicates(
    broker: Broker, broker_url: str, queue_name: str
) -> None:
    broker.declare(queue_name)
    subscribed = threading.Barrier(3, timeout=10)
    settled = itertools.count(1)  # next() on a count is atomic under the GIL
    done = threading.Event()

    def work() -> list[bytes]:
        got: list[bytes] = []
        try:
            with connect(broker_url) as own:
                consumer = own.consume(queue_name, prefetch=8, idle_timeout=IDLE)
                next(consumer)  # subscribed
                subscribed.wait()
                while not done.is_set():
                    if (delivery := next(consumer)) is not None:
                        time.sleep(0.001)  # a little work, so both threads get a turn
                        got.append(delivery.body)
                        delivery.ack()
                        if next(settled) == 200:
                            done.set()
        finally:
            done.set()  # success or failure, the other thread stops too
        return got

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(work), pool.submit(work)]
        subscribed.wait()
        publish_numbered(broker, queue_name, 200)
        a, b = (f.result(timeout=20) for f in futures)

    assert sorted(a + b) == sorted(f"m{i}".encode() for i in range(200))
    assert a and b, "one consumer got all the work"


def test_connect_refuses_an_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="'redis'"):
        connect("redis://localhost:6379/0")


def test_memory_brokers_with_different_names_do_not_share_queues() -> None:
    names = [f"test-{uuid.uuid4().hex}" for _ in range(2)]
    with connect(f"memory://{names[0]}") as left, connect(f"memory://{names[1]}") as right:
        left.publish("work", b"x")
        assert right.depth("work") == 0
    for name in names:
        memory.reset(name)

def test_a_failed_rabbitmq_connection_names_the_url_with_the_password_masked() -> None:
    with pytest.raises(BrokerError) as failure:
        connect("amqp://engage:s3cret@127.0.0.1:1/%2F")

    assert "amqp://engage:***@127.0.0.1:1/%2F" in str(failure.value)
    assert "s3cret" not in str(failure.value)


def test_rabbitmq_side_rejections_land_in_the_dead_letter_queue(rabbitmq_url: str, rabbitmq_queue: str):
    with connect(rabbitmq_url) as broker:
        broker.publish(rabbitmq_queue, b"x")
        with pika.BlockingConnection(pika.URLParameters(rabbitmq_url)) as raw:
            channel = raw.channel()
            method, _props, _body = channel.basic_get(rabbitmq_queue, auto_ack=False)
            channel.basic_reject(method.delivery_tag, requeue=False)

        wait_for_depth(broker, dead_letter_queue(rabbitmq_queue), 1)


def test_publish_reconnects_after_the_connection_dropped(proxied_broker, rabbitmq_queue: str) -> None:
    broker, proxy = proxied_broker
    broker.publish(rabbitmq_queue, b"before")
    proxy.drop_connections()
    broker.publish(rabbitmq_queue, b"after")

    assert broker.depth(rabbitmq_queue) == 2


def test_consume_reconnects_after_the_connection_dropped(proxied_broker, rabbitmq_queue: str) -> None:
    broker, proxy = proxied_broker
    broker.publish(rabbitmq_queue, b"x")
    proxy.drop_connections()
    [delivery] = take(broker.consume(rabbitmq_queue, idle_timeout=IDLE), 1)

    assert delivery.body == b"x"


@pytest.mark.parametrize("reconnected_meanwhile", [False, True], ids=["dropped", "reconnected-by-publish"])
def test_an_active_consumer_fails_fast_when_its_connection_is_lost(
    proxied_broker, rabbitmq_queue: str, reconnected_meanwhile: bool
) -> None:
    broker, proxy = proxied_broker
    consumer = broker.consume(rabbitmq_queue, idle_timeout=IDLE)
    assert next(consumer) is None
    proxy.drop_connections()
    if reconnected_meanwhile:
        broker.publish(rabbitmq_queue, b"x")  # the consumer's channel died with the old connection

    with pytest.raises(BrokerError, match="lost"):
        take(consumer, 1, timeout=5)
