"""EsmeClient against a real SMSC simulator (and a few hand-scripted SMSCs) over real TCP."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from smpplib import consts

from engage.engine.smpp import codec
from engage.engine.smpp.client import (
    BindError,
    DeliverSm,
    EsmeClient,
    SmppConfig,
    SmppConnectionError,
    SubmitTimeout,
)
from engage.engine.smpp.receipts_text import receipt_from_deliver
from engage.engine.smpp.simulator import SmscSimulator

VENDOR_TLV = 0x1401  # in the vendor-specific range: no library knows it
Factory = Callable[..., SmscSimulator]


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


def config(sim: SmscSimulator | int, **overrides: Any) -> SmppConfig:
    port = sim if isinstance(sim, int) else sim.port
    settings: dict[str, Any] = {"system_id": "engage", "password": "secret", "response_timeout": 5.0}
    settings.update(overrides)
    return SmppConfig(host="127.0.0.1", port=port, **settings)


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def send_one(client: EsmeClient, n: int = 0, **kwargs: Any) -> Any:
    return await client.submit(
        source="ENGAGE", destination=f"2547{n:08d}", short_message=b"hi %d" % n, **kwargs
    )


@contextlib.asynccontextmanager
async def scripted_smsc(script: Callable[[Any], list[bytes]]) -> AsyncIterator[int]:
    """A bare SMSC answering as the test says, for wire situations the simulator never creates."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (pdu := await codec.read_pdu(reader)) is not None:
            for reply in script(pdu):
                writer.write(reply)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def bind_ok(pdu: Any) -> bytes:
    return codec.encode(codec.make(f"{pdu.command}_resp", sequence=pdu.sequence, system_id="scripted"))


def with_vendor_tlv(raw: bytes) -> bytes:
    extended = raw + struct.pack(">HH", VENDOR_TLV, 4) + b"\xde\xad\xbe\xef"
    return struct.pack(">L", len(extended)) + extended[4:]


def test_bind_with_wrong_password_is_refused_with_invalid_password(smsc: SmscSimulator) -> None:
    client = EsmeClient(config(smsc, password="wrong"))
    with pytest.raises(BindError) as refused:
        run(client.connect())
    assert refused.value.status == consts.SMPP_ESME_RINVPASWD
    assert not client.bound


def test_bind_with_unknown_system_id_is_refused_with_invalid_system_id(smsc: SmscSimulator) -> None:
    with pytest.raises(BindError) as refused:
        run(EsmeClient(config(smsc, system_id="nobody")).connect())
    assert refused.value.status == consts.SMPP_ESME_RINVSYSID


def test_connect_to_a_closed_port_raises_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SmppConnectionError):
        run(EsmeClient(config(port)).connect())


@pytest.mark.parametrize("mode", ["transceiver", "transmitter", "receiver"])
def test_each_bind_mode_binds_and_close_unbinds_idempotently(smsc: SmscSimulator, mode: str) -> None:
    async def scenario() -> None:
        client = EsmeClient(config(smsc, bind_mode=mode))
        await client.connect()
        assert client.bound
        assert client.smsc_system_id == "engage-sim"
        await client.close()
        await client.close()
        assert not client.bound

    run(scenario())
    assert smsc.stats()["binds"] == 1


def test_submits_return_distinct_message_ids(smsc: SmscSimulator) -> None:
    async def scenario() -> list[Any]:
        client = EsmeClient(config(smsc))
        await client.connect()
        results = await asyncio.gather(*(send_one(client, n) for n in range(20)))
        await client.close()
        return results

    results = run(scenario())
    assert all(r.status == 0 for r in results)
    assert len({r.message_id for r in results}) == 20


def test_window_caps_outstanding_submits_per_bind(smsc_factory: Factory) -> None:
    sim = smsc_factory(response_delay=0.03)
    seen: list[int] = []

    async def scenario() -> None:
        client = EsmeClient(config(sim, window=4))
        await client.connect()

        async def watched(n: int) -> Any:
            task = asyncio.ensure_future(send_one(client, n))
            await asyncio.sleep(0)
            seen.append(client.in_flight)
            return await task

        await asyncio.gather(*(watched(n) for n in range(30)))
        assert client.in_flight == 0
        await client.close()

    run(scenario())
    assert max(seen) == 4
    assert sim.stats()["max_outstanding"] == 4


def test_receipts_arrive_with_matching_ids_and_both_tlvs(smsc: SmscSimulator) -> None:
    delivered: list[DeliverSm] = []

    async def on_deliver(d: DeliverSm) -> None:
        delivered.append(d)

    async def scenario() -> set[str]:
        client = EsmeClient(config(smsc), on_deliver)
        await client.connect()
        results = await asyncio.gather(*(send_one(client, n) for n in range(5)))
        await wait_until(lambda: len(delivered) == 5)
        await client.close()
        return {r.message_id for r in results}

    ids = run(scenario())
    assert {d.receipted_message_id for d in delivered} == ids
    assert all(d.message_state == 2 for d in delivered)
    assert all(d.esm_class == 0x04 for d in delivered)
    assert {receipt_from_deliver(d).message_id for d in delivered} == ids
    assert smsc.stats()["receipts_acked"] == 5


def test_throttled_submit_returns_status_0x58_without_message_id(smsc_factory: Factory) -> None:
    sim = smsc_factory(throttle_rate=1.0)

    async def scenario() -> Any:
        client = EsmeClient(config(sim))
        await client.connect()
        result = await send_one(client)
        await client.close()
        return result

    result = run(scenario())
    assert result.status == consts.SMPP_ESME_RTHROTTLED
    assert result.message_id is None


def test_failed_submit_returns_submit_fail_status(smsc_factory: Factory) -> None:
    sim = smsc_factory(fail_rate=1.0)

    async def scenario() -> Any:
        client = EsmeClient(config(sim))
        await client.connect()
        result = await send_one(client)
        await client.close()
        return result

    assert run(scenario()).status == consts.SMPP_ESME_RSUBMITFAIL


def test_deliver_refused_by_on_deliver_is_resent_and_then_acked(smsc_factory: Factory) -> None:
    sim = smsc_factory(receipt_delay=0.0, retry_delay=0.05)
    attempts: list[str | None] = []

    async def flaky(d: DeliverSm) -> None:
        attempts.append(d.receipted_message_id)
        if len(attempts) == 1:
            raise RuntimeError("database briefly unavailable")

    async def scenario() -> str:
        client = EsmeClient(config(sim), flaky)
        await client.connect()
        result = await send_one(client)
        await wait_until(lambda: sim.stats()["receipts_acked"] == 1)
        await client.close()
        return result.message_id

    message_id = run(scenario())
    assert attempts == [message_id, message_id]
    assert sim.stats()["receipts_nacked"] == 1


def test_dropped_connection_fails_pending_submits_with_connection_error(
    smsc_factory: Factory,
) -> None:
    sim = smsc_factory(response_delay=10.0)

    async def scenario() -> list[Any]:
        client = EsmeClient(config(sim, window=5))
        await client.connect()
        pending = [asyncio.ensure_future(send_one(client, n)) for n in range(8)]
        await wait_until(lambda: sim.stats()["submits"] == 5)
        sim.drop_connections()
        outcomes = await asyncio.gather(*pending, return_exceptions=True)
        assert not client.bound
        assert client.in_flight == 0
        await client.close()
        return outcomes

    outcomes = run(scenario())
    assert all(isinstance(o, SmppConnectionError) for o in outcomes)


def test_submit_after_the_connection_dropped_raises_connection_error(smsc: SmscSimulator) -> None:
    async def scenario() -> None:
        client = EsmeClient(config(smsc))
        await client.connect()
        smsc.drop_connections()
        await wait_until(lambda: not client.bound)
        with pytest.raises(SmppConnectionError):
            await send_one(client)

    run(scenario())


def test_client_can_bind_again_after_the_connection_dropped(smsc: SmscSimulator) -> None:
    async def scenario() -> Any:
        client = EsmeClient(config(smsc))
        await client.connect()
        smsc.drop_connections()
        await wait_until(lambda: not client.bound)
        await client.connect()
        result = await send_one(client)
        await client.close()
        return result

    assert run(scenario()).status == 0
    assert smsc.stats()["binds"] == 2


def test_unanswered_submit_raises_submit_timeout(smsc_factory: Factory) -> None:
    sim = smsc_factory(response_delay=5.0)

    async def scenario() -> None:
        client = EsmeClient(config(sim, response_timeout=0.2))
        await client.connect()
        with pytest.raises(SubmitTimeout) as timed_out:
            await send_one(client)
        assert isinstance(timed_out.value, asyncio.TimeoutError)
        assert client.in_flight == 0
        await client.close()

    run(scenario())


def test_enquire_link_is_sent_every_interval(smsc: SmscSimulator) -> None:
    async def scenario() -> None:
        client = EsmeClient(config(smsc, enquire_link_interval=0.05))
        await client.connect()
        await wait_until(lambda: smsc.stats()["enquire_links"] >= 3)
        assert client.bound
        await client.close()

    run(scenario())


def test_mo_message_reaches_on_deliver_and_is_not_a_receipt(smsc: SmscSimulator) -> None:
    delivered: list[DeliverSm] = []

    async def on_deliver(d: DeliverSm) -> None:
        delivered.append(d)

    async def scenario() -> None:
        client = EsmeClient(config(smsc, bind_mode="receiver"), on_deliver)
        await client.connect()
        smsc.deliver_mo("254700000001", "22555", "STOP")
        await wait_until(lambda: len(delivered) == 1)
        await client.close()

    run(scenario())
    mo = delivered[0]
    assert (mo.source_addr, mo.destination_addr, mo.short_message) == ("254700000001", "22555", b"STOP")
    assert mo.esm_class == 0
    assert receipt_from_deliver(mo) is None
    assert smsc.stats()["mo_acked"] == 1


def test_receipts_wait_for_a_receiver_bind_when_only_a_transmitter_is_bound(smsc: SmscSimulator) -> None:
    delivered: list[DeliverSm] = []

    async def on_deliver(d: DeliverSm) -> None:
        delivered.append(d)

    async def scenario() -> str:
        sender = EsmeClient(config(smsc, bind_mode="transmitter"))
        await sender.connect()
        result = await send_one(sender)
        await asyncio.sleep(0.1)
        receiver = EsmeClient(config(smsc, bind_mode="receiver"), on_deliver)
        await receiver.connect()
        await wait_until(lambda: len(delivered) == 1)
        await sender.close()
        await receiver.close()
        return result.message_id

    assert run(scenario()) == delivered[0].receipted_message_id


def test_generic_nack_answers_that_submit_with_the_nack_status() -> None:
    def script(pdu: Any) -> list[bytes]:
        if pdu.command.startswith("bind_"):
            return [bind_ok(pdu)]
        if pdu.command == "submit_sm":
            nack = codec.make("generic_nack", sequence=pdu.sequence, status=consts.SMPP_ESME_RINVCMDLEN)
            return [codec.encode(nack)]
        return [codec.encode(codec.make(f"{pdu.command}_resp", sequence=pdu.sequence))]

    async def scenario() -> Any:
        async with scripted_smsc(script) as port:
            client = EsmeClient(config(port))
            await client.connect()
            result = await send_one(client)
            await client.close()
            return result

    result = run(scenario())
    assert (result.status, result.message_id) == (consts.SMPP_ESME_RINVCMDLEN, None)


def test_deliver_sm_with_an_unknown_tlv_is_delivered_and_acked() -> None:
    acks: list[Any] = []
    delivered: list[DeliverSm] = []

    def script(pdu: Any) -> list[bytes]:
        if pdu.command.startswith("bind_"):
            receipt = codec.make(
                "deliver_sm", sequence=77, source_addr="254700000001", destination_addr="ENGAGE", esm_class=4,
                short_message=b"id:abc stat:DELIVRD", receipted_message_id="abc", message_state=2,
            )
            return [bind_ok(pdu), with_vendor_tlv(codec.encode(receipt))]
        if pdu.command == "deliver_sm_resp":
            acks.append(pdu)
        if pdu.command.endswith("_resp"):
            return []
        return [codec.encode(codec.make(f"{pdu.command}_resp", sequence=pdu.sequence))]

    async def on_deliver(d: DeliverSm) -> None:
        delivered.append(d)

    async def scenario() -> None:
        async with scripted_smsc(script) as port:
            client = EsmeClient(config(port), on_deliver)
            await client.connect()
            await wait_until(lambda: bool(acks))
            await client.close()

    run(scenario())
    assert delivered[0].receipted_message_id == "abc"
    assert (acks[0].sequence, acks[0].status) == (77, 0)


def test_unknown_tlv_in_a_pdu_is_skipped_and_kept_aside() -> None:
    raw = codec.encode(codec.make("deliver_sm", sequence=3, source_addr="1", destination_addr="2",
                                  short_message=b"x", message_state=5))
    pdu = codec.decode(with_vendor_tlv(raw))
    assert (pdu.message_state, pdu.short_message) == (5, b"x")
    assert pdu.unknown_tlvs == {VENDOR_TLV: b"\xde\xad\xbe\xef"}


def test_submit_sm_resp_error_with_empty_body_decodes() -> None:
    raw = struct.pack(">LLLL", 16, 0x80000004, consts.SMPP_ESME_RTHROTTLED, 42)
    pdu = codec.decode(raw)
    assert (pdu.command, pdu.status, pdu.sequence, pdu.message_id) == ("submit_sm_resp", 0x58, 42, None)


def test_error_responses_are_encoded_header_only() -> None:
    resp = codec.make("submit_sm_resp", sequence=9, status=consts.SMPP_ESME_RTHROTTLED, message_id="x")
    raw = codec.encode(resp)
    assert raw == struct.pack(">LLLL", 16, 0x80000004, 0x58, 9)


def test_read_pdu_rejects_an_absurd_command_length() -> None:
    async def scenario() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(struct.pack(">LL", 1 << 20, 4))
        with pytest.raises(codec.FramingError, match="command_length"):
            await codec.read_pdu(reader)

    run(scenario())


def test_read_pdu_returns_none_on_clean_eof() -> None:
    async def scenario() -> Any:
        reader = asyncio.StreamReader()
        reader.feed_eof()
        return await codec.read_pdu(reader)

    assert run(scenario()) is None


def test_sequence_source_wraps_back_to_one_after_the_maximum() -> None:
    seq = codec.SequenceSource(start=0x7FFFFFFF)
    assert [seq.next_sequence(), seq.next_sequence()] == [0x7FFFFFFF, 1]


def test_thousand_submits_through_a_window_of_fifty_all_get_ids_and_receipts(smsc: SmscSimulator) -> None:
    receipt_ids: set[str] = set()

    async def on_deliver(d: DeliverSm) -> None:
        receipt_ids.add(receipt_from_deliver(d).message_id)

    async def scenario() -> set[str]:
        client = EsmeClient(config(smsc, window=50), on_deliver)
        await client.connect()
        results = await asyncio.gather(*(send_one(client, n) for n in range(1000)))
        await wait_until(lambda: len(receipt_ids) == 1000, timeout=15)
        await client.close()
        return {r.message_id for r in results}

    ids = run(scenario())
    assert len(ids) == 1000
    assert receipt_ids == ids
