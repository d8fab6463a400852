"""Sending and receiving in batches: the provider's pool of senders, receipts handed to the sink
in one go, and the receipt fast path agreeing with the full parser."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from engage.engine.broker import connect
from engage.engine.broker.queues import receipts_queue
from engage.engine.providers.base import InboundSms, OutboundSms, SendOutcome
from engage.engine.providers.send_pool import SendPool
from engage.engine.providers.smpp.receipts import read_receipt
from engage.engine.receipts.sink import BrokerDeliverySink
from engage.engine.smpp import codec, fastpdu
from engage.engine.smpp.client_types import deliver_from_pdu
from engage.engine.smpp.receipts_text import DeliveryReport, receipt_deliver_fields, receipt_from_deliver
from engage.simulators.smsc import SmscSimulator
from tests.smpp_helpers import Sink, provider_settings, run, running, sms, wait_until

Factory = Callable[..., SmscSimulator]


class BatchSink(Sink):
    """A sink that takes deliveries in batches, and can be told to refuse the next few."""

    def __init__(self, refuse: int = 0) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.refuse = refuse

    async def hand_over(self, provider_id: int, receipts: list[DeliveryReport], inbound: list[InboundSms]) -> None:
        if self.refuse:
            self.refuse -= 1
            raise ConnectionError("broker away")
        self.batches.append(len(receipts) + len(inbound))
        self.receipts.extend(receipts)
        self.replies.extend(inbound)


def test_batches_sent_together_keep_their_order_and_never_overfill_the_windows(smsc: SmscSimulator) -> None:
    sink = BatchSink()

    async def scenario() -> list[list[SendOutcome]]:
        async with running(provider_settings(smsc.port, binds=2, window=5), sink=sink) as provider:
            batches = [[sms(b * 100 + n) for n in range(100)] for b in range(4)]
            outcomes = await asyncio.gather(*(provider.send_batch(batch) for batch in batches))
            await wait_until(lambda: len(sink.receipts) == 400)
            return outcomes

    outcomes = run(scenario())
    assert [[o.message_id for o in batch] for batch in outcomes] == [[b * 100 + n for n in range(100)]
                                                                      for b in range(4)]
    assert all(o.ok and len(o.part_ids) == 1 for batch in outcomes for o in batch)
    assert smsc.stats()["max_outstanding"] <= 10
    assert sum(sink.batches) == 400 and len(sink.batches) < 400  # receipts went over in batches


def test_receipts_the_sink_refuses_are_sent_again_and_then_taken(smsc_factory: Factory) -> None:
    sim = smsc_factory(receipt_delay=0.0, retry_delay=0.05)
    sink = BatchSink(refuse=1)

    async def scenario() -> list[SendOutcome]:
        async with running(provider_settings(sim.port), sink=sink) as provider:
            outcomes = await provider.send_batch([sms(n) for n in range(20)])
            await wait_until(lambda: sim.stats()["receipts_acked"] == 20)
            return outcomes

    outcomes = run(scenario())
    assert sim.stats()["receipts_nacked"] >= 1
    assert {r.message_id for r in sink.receipts} == {o.part_ids[0] for o in outcomes}


def test_a_send_pool_fails_the_batch_whose_send_raised_and_goes_on_with_the_next() -> None:
    async def send(item: OutboundSms) -> SendOutcome:
        await asyncio.sleep(0)
        if item.id == 3:
            raise RuntimeError("a bug")
        return SendOutcome(item.id)

    async def scenario() -> list[int]:
        pool = SendPool(send, 2)
        with pytest.raises(RuntimeError):
            await pool.send([sms(n) for n in range(5)])
        outcomes = await pool.send([sms(n) for n in range(10, 15)])
        await pool.close(timeout=1)
        return [o.message_id for o in outcomes]

    assert run(scenario()) == [10, 11, 12, 13, 14]


def test_closing_a_send_pool_fails_what_it_could_not_finish() -> None:
    async def send(item: OutboundSms) -> SendOutcome:
        await asyncio.sleep(60)
        return SendOutcome(item.id)

    async def scenario() -> None:
        pool = SendPool(send, 3)
        batch = asyncio.ensure_future(pool.send([sms(n) for n in range(10)]))
        await asyncio.sleep(0.01)
        await pool.close(timeout=0.05)
        with pytest.raises(ConnectionError):
            await batch

    run(scenario())


@pytest.mark.parametrize(("stat", "err", "tlvs", "text"), itertools.product(
    ["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD"], ["000", "012", "é1"], [True, False], ["", "hi text: err:9"]))
def test_the_receipt_fast_path_reads_what_the_full_parser_reads(stat: str, err: str, tlvs: bool, text: str) -> None:
    when = datetime(2026, 11, 22, 15, 30, 45)
    fields = receipt_deliver_fields("1a2b3c4d5e", handset="99897000001", sender="Bench", stat=stat, err=err,
                                    submit_date=when, done_date=when, tlvs=tlvs, text=text)
    deliver = deliver_from_pdu(codec.decode(fastpdu.encode_sm(fastpdu.DELIVER_SM, 7, fields)))
    assert read_receipt(deliver) == receipt_from_deliver(deliver)


@pytest.mark.parametrize("body", [b"id:7 sub:001 dlvrd:001 submit date:2611221530 done date:26112215304 "
                                  b"stat:DELIVRD err:000 text:", b"Hello there", b""])
def test_the_receipt_fast_path_leaves_other_shapes_to_the_full_parser(body: bytes) -> None:
    fields: dict[str, Any] = {"source_addr": "1", "destination_addr": "2", "esm_class": 0x04,
                              "short_message": body, "receipted_message_id": "7", "message_state": 2}
    deliver = deliver_from_pdu(codec.decode(fastpdu.encode_sm(fastpdu.DELIVER_SM, 7, fields)))
    assert read_receipt(deliver) == receipt_from_deliver(deliver)


def test_the_broker_sink_publishes_a_hand_over_as_one_message_per_provider(broker_url, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_QUEUE_PREFIX", f"test.{uuid.uuid4().hex[:8]}")
    sink = BrokerDeliverySink(broker_url)
    done_at = datetime(2026, 11, 22, 15, 30)

    async def scenario() -> None:
        await asyncio.gather(
            sink.hand_over(1, [DeliveryReport("a", "DELIVRD", "000", done_at, ours=41),
                               DeliveryReport("b", "UNDELIV", "012", None)],
                           [InboundSms("+1", "2", "hi")]),
            sink.receipt(2, DeliveryReport("c", "DELIVRD", None, None)))

    try:
        run(scenario())
    finally:
        sink.close()
    broker = connect(broker_url)
    bodies = []
    for delivery in broker.consume(receipts_queue(), idle_timeout=1):
        assert delivery is not None
        bodies.append(json.loads(delivery.body))
        delivery.ack()
        if len(bodies) == 2:
            break
    broker.delete(receipts_queue())
    broker.close()
    by_provider = {body["provider_id"]: body for body in bodies}
    assert by_provider[1]["receipts"] == [
        {"id": "a", "stat": "DELIVRD", "err": "000", "done_at": "2026-11-22T15:30:00", "ours": 41},
        {"id": "b", "stat": "UNDELIV", "err": "012", "done_at": None}]
    assert by_provider[1]["inbound"] == [{"source": "+1", "destination": "2", "text": "hi"}]
    assert [r["id"] for r in by_provider[2]["receipts"]] == ["c"]
