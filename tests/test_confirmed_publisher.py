"""Publishing from an event loop with many confirms awaited at once, against the real RabbitMQ."""

from __future__ import annotations

import asyncio

import pytest

from engage.engine.broker import BrokerError, connect
from engage.engine.broker.confirmed_publisher import ConfirmedPublisher


def _bodies(url: str, queue: str, count: int) -> list[bytes]:
    broker = connect(url)
    try:
        out = []
        for delivery in broker.consume(queue, idle_timeout=2):
            if delivery is None:
                break
            out.append(delivery.body)
            delivery.ack()
            if len(out) == count:
                break
        return out
    finally:
        broker.close()


def _declared(url: str, queue: str) -> str:
    with connect(url) as broker:
        broker.declare(queue)
    return queue


def test_a_publish_returns_once_confirmed_and_the_message_is_in_the_queue(rabbitmq_url, rabbitmq_queue) -> None:
    publisher = ConfirmedPublisher(rabbitmq_url)

    async def scenario() -> None:
        await publisher.publish(_declared(rabbitmq_url, rabbitmq_queue), b'{"receipts": []}')
        publisher.close()

    asyncio.run(scenario())
    assert _bodies(rabbitmq_url, rabbitmq_queue, 1) == [b'{"receipts": []}']


def test_many_publishes_await_their_confirms_together_and_arrive_in_order(rabbitmq_url, rabbitmq_queue) -> None:
    publisher = ConfirmedPublisher(rabbitmq_url)
    queue = _declared(rabbitmq_url, rabbitmq_queue)

    async def scenario() -> None:
        await asyncio.gather(*(publisher.publish(queue, b"%d" % i) for i in range(300)))
        publisher.close()

    asyncio.run(scenario())
    assert _bodies(rabbitmq_url, queue, 300) == [b"%d" % i for i in range(300)]


def test_a_message_for_a_queue_that_does_not_exist_is_an_error(rabbitmq_url) -> None:
    publisher = ConfirmedPublisher(rabbitmq_url)

    async def scenario() -> None:
        try:
            with pytest.raises(BrokerError, match="no such queue"):
                await publisher.publish("test.nowhere.at.all", b"lost?")
        finally:
            publisher.close()

    asyncio.run(scenario())


def test_an_unreachable_broker_is_an_error_that_masks_the_password() -> None:
    publisher = ConfirmedPublisher("amqp://guest:s3cret@127.0.0.1:1/%2F")

    async def scenario() -> None:
        with pytest.raises(BrokerError, match="cannot reach RabbitMQ") as caught:
            await publisher.publish("anywhere", b"x")
        assert "s3cret" not in str(caught.value)

    asyncio.run(scenario())


def test_a_lost_connection_fails_what_awaits_its_confirm_and_the_next_publish_reconnects(
        rabbitmq_url, rabbitmq_queue) -> None:
    publisher = ConfirmedPublisher(rabbitmq_url)
    queue = _declared(rabbitmq_url, rabbitmq_queue)

    async def scenario() -> list[object]:
        await publisher.publish(queue, b"first")
        in_flight = [asyncio.ensure_future(publisher.publish(queue, b"maybe")) for _ in range(5)]
        await asyncio.sleep(0)
        publisher.close()
        outcomes = await asyncio.gather(*in_flight, return_exceptions=True)
        await publisher.publish(queue, b"after")
        publisher.close()
        return outcomes

    outcomes = asyncio.run(scenario())
    # each in-flight publish either made it before the close, or says it may not have
    assert all(o is None or isinstance(o, BrokerError) for o in outcomes)
    bodies = _bodies(rabbitmq_url, queue, 7)
    assert bodies[0] == b"first" and bodies[-1] == b"after"
    assert bodies.count(b"maybe") >= sum(o is None for o in outcomes)
