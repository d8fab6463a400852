"""The SMPP provider kind against the SMSC simulator, or a hand-scripted SMSC where the simulator
never says what the test needs (odd responses, silence), always over real TCP: binds, pacing,
retries and errors."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest

from engage.engine.providers.base import SendOutcome
from engage.engine.providers.smpp import SmppProvider
from engage.engine.smpp import fastpdu
from engage.simulators.smsc import SmscSimulator
from tests.smpp_helpers import (
    GSM_LONG,
    VENDOR_TLV,
    ScriptedSmsc,
    Sink,
    header_only,
    ok,
    provider_settings,
    run,
    running,
    send_all,
    sms,
    wait_until,
)

Factory = Callable[..., SmscSimulator]


def test_transceiver_mode_opens_the_configured_number_of_binds(smsc: SmscSimulator) -> None:
    async def scenario() -> dict[str, Any]:
        async with running(provider_settings(smsc.port, binds=3, window=7)) as provider:
            return provider.status()

    status = run(scenario())
    assert {k: status[k] for k in ("binds_up", "binds", "window", "healthy")} == \
        {"binds_up": 3, "binds": 3, "window": 21, "healthy": True}
    assert smsc.stats()["binds"] == 3


def test_transmitter_receiver_mode_submits_on_transmitters_and_receipts_arrive_on_receivers(
        smsc: SmscSimulator) -> None:
    sink = Sink()

    async def scenario() -> list[SendOutcome]:
        config = provider_settings(smsc.port, bind_mode="transmitter_receiver", binds=2, receiver_binds=1)
        async with running(config, sink=sink) as provider:
            assert [c.config.bind_mode for c in (*provider.senders, *provider.receivers)] == \
                ["transmitter", "transmitter", "receiver"]
            outcomes = await send_all(provider, 20)
            await wait_until(lambda: len(sink.receipts) == 20)
        return outcomes

    outcomes = run(scenario())
    assert {r.message_id for r in sink.receipts} == {o.part_ids[0] for o in outcomes}
    assert smsc.stats()["binds"] == 3


def test_dropped_connections_are_rebound_and_every_message_still_goes(smsc_factory: Factory) -> None:
    sim = smsc_factory(response_delay=0.02)

    async def scenario() -> tuple[list[SendOutcome], int]:
        async with running(provider_settings(sim.port, binds=2, window=8)) as provider:
            sending = asyncio.ensure_future(send_all(provider, 300))
            await wait_until(lambda: sim.stats()["accepted"] >= 50)
            sim.drop_connections()
            outcomes = await sending
            await wait_until(lambda: provider.status()["binds_up"] == 2)
            return outcomes, provider.stats.reconnects

    outcomes, reconnects = run(scenario())
    assert all(o.ok for o in outcomes)
    assert reconnects == 2
    assert {r.destination for r in sim.received} == {f"2547{n:08d}" for n in range(300)}


def test_a_bind_whose_enquire_link_goes_unanswered_is_dropped_and_rebound() -> None:
    def script(pdu: Any, connection: int) -> list[bytes]:
        if pdu.command == "enquire_link" and connection == 1:
            return []  # the first connection has silently died
        return ok(pdu)

    smsc = ScriptedSmsc(script)

    async def scenario() -> tuple[int, SendOutcome]:
        async with smsc as port, running(provider_settings(port, enquire_link_interval=0.1, response_timeout=0.2)) as p:
            await wait_until(lambda: smsc.connections == 2 and p.status()["binds_up"] == 1)
            return p.stats.reconnects, await p.send(sms(1))

    reconnects, outcome = run(scenario())
    assert (reconnects, outcome.part_ids) == (1, ["abc"])


def test_start_returns_while_the_smsc_is_down_and_the_bind_comes_up_with_it() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> tuple[bool, bool]:
        sim = SmscSimulator(port=port)
        async with running(provider_settings(port, response_timeout=0.3)) as provider:
            down = provider.status()["healthy"]
            await sim.start()
            try:
                await wait_until(lambda: provider.status()["healthy"], timeout=5)
                return down, (await provider.send(sms(1))).ok
            finally:
                await sim.stop()

    assert run(scenario()) == (False, True)


def test_a_refused_bind_leaves_the_provider_unhealthy_and_messages_fail_over(smsc: SmscSimulator) -> None:
    async def scenario() -> tuple[dict[str, Any], SendOutcome]:
        async with running(provider_settings(smsc.port, password="wrong", response_timeout=0.2, max_attempts=1)) as p:
            return p.status(), await p.send(sms(1))

    status, outcome = run(scenario())
    assert (status["healthy"], status["binds_up"]) == (False, 0)
    assert outcome.error == "smpp:connection"


# -- pacing and errors ------------------------------------------------------------------------------

def test_token_bucket_counts_parts_not_messages(smsc: SmscSimulator) -> None:
    async def scenario() -> tuple[float, int]:
        async with running(provider_settings(smsc.port), tps=40) as provider:
            started = time.monotonic()
            outcomes = await send_all(provider, 8, GSM_LONG)  # 3 parts each: 24 parts, 4 in the bucket
            assert all(len(o.part_ids) == 3 for o in outcomes)
            return time.monotonic() - started, provider.stats.submitted_parts

    elapsed, parts = run(scenario())
    assert parts == 24 == smsc.stats()["accepted"]
    assert elapsed >= (24 - 4) / 40 * 0.9


def test_throttled_and_queue_full_are_retried_without_using_attempts_and_slow_the_provider(
        smsc_factory: Factory) -> None:
    sim = smsc_factory(throttle_rate=0.1, msgqful_rate=0.05)

    async def scenario() -> tuple[list[SendOutcome], SmppProvider]:
        async with running(provider_settings(sim.port, max_attempts=1), tps=2000) as provider:
            return await send_all(provider, 100), provider

    outcomes, provider = run(scenario())
    stats = sim.stats()
    assert all(o.ok for o in outcomes)
    assert provider.stats.throttled == stats["throttled"] + stats["queue_full"] > 0
    assert stats["throttled"] > 0 and stats["queue_full"] > 0
    assert provider.pace.cuts >= 1 and provider.pace.rate < 2000
    assert provider.stats.temporary_errors == provider.stats.permanent_errors == 0


@pytest.mark.parametrize(("faults", "error"), [({"reject_rate": 1.0}, "smpp:0x0b"), ({"fail_rate": 1.0}, "smpp:0x45"),
                                              ({"reject_rate": 1.0, "reject_status": 0x0A}, "smpp:0x0a")])
def test_a_permanent_error_fails_the_message_with_the_smsc_code_at_once(
        smsc_factory: Factory, faults: dict[str, Any], error: str) -> None:
    sim = smsc_factory(**faults)

    async def scenario() -> tuple[list[SendOutcome], SmppProvider]:
        async with running(provider_settings(sim.port)) as provider:
            return await send_all(provider, 5), provider

    outcomes, provider = run(scenario())
    assert [o.error for o in outcomes] == [error] * 5
    assert sim.stats()["submits"] == 5 == provider.stats.permanent_errors


def test_a_temporary_error_is_retried_and_then_succeeds() -> None:
    def script(pdu: Any, connection: int) -> list[bytes]:
        if pdu.command == "submit_sm" and len(smsc.submits) == 1:
            return header_only(pdu, 0x80000004, 0x08)  # system error, header only
        return ok(pdu)

    smsc = ScriptedSmsc(script)

    async def scenario() -> tuple[SendOutcome, int]:
        async with smsc as port, running(provider_settings(port)) as provider:
            return await provider.send(sms(1)), provider.stats.temporary_errors

    outcome, temporary = run(scenario())
    assert (outcome.part_ids, temporary, len(smsc.submits)) == (["abc"], 1, 2)


def test_temporary_errors_are_retried_only_max_attempts_times() -> None:
    smsc = ScriptedSmsc(lambda pdu, _: header_only(pdu, 0x80000004, 0x64) if pdu.command == "submit_sm" else ok(pdu))

    async def scenario() -> SendOutcome:
        async with smsc as port, running(provider_settings(port, max_attempts=3)) as provider:
            return await provider.send(sms(1))

    assert run(scenario()).error == "smpp:0x64"
    assert len(smsc.submits) == 3


def test_generic_nack_without_body_fails_that_message_and_the_bind_goes_on() -> None:
    def script(pdu: Any, connection: int) -> list[bytes]:
        if pdu.command == "submit_sm" and len(smsc.submits) == 1:
            return header_only(pdu, fastpdu.GENERIC_NACK, 0x03)
        return ok(pdu)

    smsc = ScriptedSmsc(script)

    async def scenario() -> list[SendOutcome]:
        async with smsc as port, running(provider_settings(port)) as provider:
            return [await provider.send(sms(1)), await provider.send(sms(2))]

    first, second = run(scenario())
    assert (first.error, second.part_ids, smsc.connections) == ("smpp:0x03", ["abc"], 1)


def test_odd_submit_responses_do_not_break_the_bind() -> None:
    answers = iter([
        lambda pdu: header_only(pdu, 0x80000004, 0x45),  # error, no body
        lambda pdu: ok(pdu, "m2", tail=VENDOR_TLV),  # a vendor TLV after the message id
        lambda pdu: [struct.pack(">LLLL", 19, 0x80000004, 0, pdu.sequence) + b"m3\0"[:3]],  # id without NUL
    ])

    def script(pdu: Any, connection: int) -> list[bytes]:
        return next(answers)(pdu) if pdu.command == "submit_sm" else ok(pdu)

    smsc = ScriptedSmsc(script)

    async def scenario() -> list[SendOutcome]:
        async with smsc as port, running(provider_settings(port)) as provider:
            return [await provider.send(sms(n)) for n in range(3)]

    outcomes = run(scenario())
    assert [(o.error, o.part_ids) for o in outcomes] == [("smpp:0x45", []), (None, ["m2"]), (None, ["m3"])]
    assert smsc.connections == 1


def test_deliver_sm_with_vendor_tlvs_reaches_the_sink_and_is_acked() -> None:
    acks: list[Any] = []
    receipt = fastpdu.encode_sm(fastpdu.DELIVER_SM, 9, {
        "source_addr": "254700000001", "destination_addr": "Engage", "esm_class": 4,
        "short_message": b"id:77 sub:001 dlvrd:001 submit date:2611221530 done date:2611221531 stat:DELIVRD err:000",
        "receipted_message_id": "77", "message_state": 2})
    receipt = struct.pack(">L", len(receipt) + len(VENDOR_TLV)) + receipt[4:] + VENDOR_TLV

    def script(pdu: Any, connection: int) -> list[bytes]:
        if pdu.command == "deliver_sm_resp":
            acks.append(pdu)
            return []
        return ok(pdu) + ([receipt] if pdu.command == "submit_sm" else [])

    sink = Sink()
    smsc = ScriptedSmsc(script)

    async def scenario() -> None:
        async with smsc as port, running(provider_settings(port), sink=sink) as provider:
            await provider.send(sms(1))
            await wait_until(lambda: bool(acks))

    run(scenario())
    assert [(r.message_id, r.stat) for r in sink.receipts] == [("77", "DELIVRD")]
    assert (acks[0].sequence, acks[0].status) == (9, 0)
