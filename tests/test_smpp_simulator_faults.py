"""The SMSC simulator's fault injection and bookkeeping, which the "nothing lost" tests rely on:
refusals by rate or TPS, receipts quoting ids in another base or without TLVs, duplicate
counting, and figures that stay consistent when read from another thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from smpplib import consts

from engage.engine.smpp.client import DeliverSm, EsmeClient
from engage.engine.smpp.receipts_text import parse_receipt_text, receipt_from_deliver
from engage.simulators.smsc import SmscSimulator
from tests.test_smpp_simulator import config, run, submit_many, wait_until

Factory = Callable[..., SmscSimulator]


@pytest.mark.parametrize(("faults", "status", "counter"), [
    ({"msgqful_rate": 1.0}, consts.SMPP_ESME_RMSGQFUL, "queue_full"),
    ({"reject_rate": 1.0}, consts.SMPP_ESME_RINVDSTADR, "rejected"),
    ({"reject_rate": 1.0, "reject_status": consts.SMPP_ESME_RINVSRCADR}, consts.SMPP_ESME_RINVSRCADR, "rejected"),
], ids=["queue-full", "invalid-destination", "custom-reject"])
def test_fault_rates_answer_with_their_status_and_are_counted(
        smsc_factory: Factory, faults: dict, status: int, counter: str) -> None:
    sim = smsc_factory(**faults)
    results = run(submit_many(sim, 3))
    assert [(r.status, r.message_id) for r in results] == [(status, None)] * 3
    assert (sim.stats()[counter], sim.received) == (3, [])


@pytest.mark.parametrize(("answer", "status", "counter"), [
    ("throttled", consts.SMPP_ESME_RTHROTTLED, "throttled"), ("msgqful", consts.SMPP_ESME_RMSGQFUL, "queue_full")])
def test_a_tps_refuses_the_submits_beyond_it_in_a_second_with_the_chosen_answer(
        smsc_factory: Factory, answer: str, status: int, counter: str) -> None:
    sim = smsc_factory(tps=5, throttle_answer=answer)
    results = run(submit_many(sim, 20))  # a few milliseconds: one second's window, or two
    accepted = sum(r.status == 0 for r in results)
    assert 5 <= accepted <= 10
    assert sim.stats()[counter] == sum(r.status == status for r in results) == 20 - accepted


def test_a_tps_is_shared_by_every_bind_of_a_system_id(smsc_factory: Factory) -> None:
    sim = smsc_factory(tps=5)

    async def three_binds() -> list[Any]:
        return [r for results in await asyncio.gather(*(submit_many(sim, 10) for _ in range(3))) for r in results]

    results = run(three_binds())
    assert sim.stats()["binds"] == 3
    assert 5 <= sum(r.status == 0 for r in results) <= 10  # each bind its own 5 a second would be 15 or more


def test_each_system_id_has_a_tps_of_its_own(smsc_factory: Factory) -> None:
    sim = smsc_factory(tps=5, accounts={"engage": "secret", "other": "secret"})

    async def both() -> list[Any]:
        await submit_many(sim, 10)
        client = EsmeClient(config(sim, system_id="other"))
        await client.connect()
        results = [await client.submit(source="ENGAGE", destination="254700000001", short_message=b"hi")
                   for _ in range(3)]
        await client.close()
        return results

    assert [r.status for r in run(both())] == [0, 0, 0]


def receipts_for(sim: SmscSimulator, count: int) -> tuple[list[str], list[DeliverSm]]:
    delivered: list[DeliverSm] = []

    async def on_deliver(d: DeliverSm) -> None:
        delivered.append(d)

    async def scenario() -> list[str]:
        client = EsmeClient(config(sim), on_deliver)
        await client.connect()
        ids = [(await client.submit(source="ENGAGE", destination="254700000001", short_message=b"hi %d" % n))
               .message_id for n in range(count)]
        await wait_until(lambda: len(delivered) == count)
        await client.close()
        return ids

    return run(scenario()), delivered


@pytest.mark.parametrize(("base", "quote"), [("same", lambda i: i), ("decimal", lambda i: str(int(i, 16))),
                                             ("hex_upper", str.upper)])
def test_receipts_quote_the_id_in_the_chosen_base(smsc_factory: Factory, base: str, quote: Callable) -> None:
    sim = smsc_factory(receipt_delay=0.0, receipt_id_base=base)
    ids, delivered = receipts_for(sim, 3)
    expected = sorted(quote(i) for i in ids)
    assert sorted(d.receipted_message_id for d in delivered) == expected
    assert sorted(parse_receipt_text(d.short_message.decode())["id"] for d in delivered) == expected
    assert set(sim.receipt_stats) == set(ids)


def test_receipts_without_tlvs_carry_the_id_and_state_in_the_text_alone(smsc_factory: Factory) -> None:
    sim = smsc_factory(receipt_delay=0.0, receipt_tlvs=False)
    [message_id], [receipt] = receipts_for(sim, 1)
    assert (receipt.receipted_message_id, receipt.message_state) == (None, None)
    assert (receipt_from_deliver(receipt).message_id, receipt_from_deliver(receipt).stat) == (message_id, "DELIVRD")


@pytest.mark.parametrize("options", [{"receipt_id_base": "octal"}, {"throttle_rate": 1.5},
                                     {"id_format": "uuid", "receipt_id_base": "decimal"}])
def test_impossible_options_are_refused(options: dict) -> None:
    with pytest.raises(ValueError):
        SmscSimulator(**options)


def test_the_same_text_to_the_same_destination_counts_as_a_duplicate(smsc: SmscSimulator) -> None:
    async def scenario() -> list[Any]:
        client = EsmeClient(config(smsc))
        await client.connect()
        results = [await client.submit(source="ENGAGE", destination=to, short_message=b"same text")
                   for to in ("254700000001", "254700000001", "254700000002")]
        await client.close()
        return results

    first, again, other = (r.message_id for r in run(scenario()))
    stats = smsc.stats()
    assert stats["duplicates"] == {first: 2, again: 2}
    assert stats["duplicate_submits"] == 1


def test_received_and_receipt_stats_read_from_another_thread_stay_consistent(smsc: SmscSimulator) -> None:
    problems: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            received = smsc.received
            stats = smsc.receipt_stats  # read after: it knows every id `received` does
            missing = [r.message_id for r in received if r.message_id not in stats]
            if missing:
                problems.append(f"{len(missing)} received ids without a receipt stat")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        async def scenario() -> None:
            client = EsmeClient(config(smsc, window=50))
            await client.connect()
            await asyncio.gather(*(client.submit(source="E", destination=f"2547{n:08d}", short_message=b"x")
                                   for n in range(2000)))
            await client.close()

        run(scenario())
    finally:
        done.set()
        thread.join()
    assert problems == []
    assert len(smsc.received) == 2000 == len(smsc.receipt_stats)


def test_cli_accepts_the_fault_options() -> None:
    from engage.simulators.smsc_cli import _parser

    args = _parser().parse_args(["--msgqful-rate", "0.1", "--reject-rate", "0.2", "--reject-status", "0x0A",
                                 "--receipt-id-base", "decimal", "--no-receipt-tlvs"])
    assert (args.msgqful_rate, args.reject_rate, args.reject_status) == (0.1, 0.2, 0x0A)
    assert (args.receipt_id_base, args.receipt_tlvs) == ("decimal", False)
