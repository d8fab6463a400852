"""EsmeClient and its wire codec, against the SMSC simulator or a hand-scripted SMSC, over real TCP."""

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
from engage.simulators.smsc import SmscSimulator

VENDOR_TLV = 0x1401  # in the vendor-specific range: no library knows it
Factory = Callable[..., SmscSimulator]


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


def config(sim: SmscSimulator | int, **overrides: Any) -> SmppConfig:
    port = sim if isinstance(sim, int) else sim.port
    settings: dict[str, Any] = {"system_id": "engage", "password": "secret", "response_timeout": 5.0}
    return SmppConfig(host="127.0.0.1", port=port, **(settings | overrides))


class Inbox:
    """An on_deliver callback that keeps what it is given."""

    def __init__(self) -> None:
        self.items: list[DeliverSm] = []

    async def __call__(self, d: DeliverSm) -> None:
        self.items.append(d)


@contextlib.asynccontextmanager
async def bound(cfg: SmppConfig, on_deliver: Any = None) -> AsyncIterator[EsmeClient]:
    client = EsmeClient(cfg, on_deliver)
    await client.connect()
    try:
        yield client
    finally:
        await client.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def send_one(client: EsmeClient, n: int = 0) -> Any:
    return await client.submit(source="ENGAGE", destination=f"2547{n:08d}", short_message=b"hi %d" % n)


@contextlib.asynccontextmanager
async def scripted_smsc(script: Callable[[Any], list[bytes]]) -> AsyncIterator[int]:
    """A bare SMSC answering as the test says, for wire situations the simulator never creates."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (pdu := await codec.read_pdu(reader)) is not None:
                for reply in script(pdu):
                    writer.write(reply)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def reply(pdu: Any, **fields: Any) -> list[bytes]:
    """The plain response to ``pdu``; for binds, a successful one."""
    return [codec.encode(codec.make(f"{pdu.command}_resp", sequence=pdu.sequence, **fields))]


def with_vendor_tlv(raw: bytes) -> bytes:
    extended = raw + struct.pack(">HH", VENDOR_TLV, 4) + b"\xde\xad\xbe\xef"
    return struct.pack(">L", len(extended)) + extended[4:]


BAD_CREDENTIALS = [({"password": "bad"}, consts.SMPP_ESME_RINVPASWD),
                   ({"system_id": "nobody"}, consts.SMPP_ESME_RINVSYSID)]


@pytest.mark.parametrize(("credentials", "status"), BAD_CREDENTIALS, ids=["password", "system_id"])
def test_bind_with_bad_credentials_is_refused(smsc: SmscSimulator, credentials: dict, status: int) -> None:
    client = EsmeClient(config(smsc, **credentials))
    with pytest.raises(BindError) as refused:
        run(client.connect())
    assert (refused.value.status, client.bound) == (status, False)


def test_connect_to_a_closed_port_raises_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SmppConnectionError):
        run(EsmeClient(config(port)).connect())


@pytest.mark.parametrize("mode", ["transceiver", "transmitter", "receiver"])
def test_each_bind_mode_binds_and_close_unbinds_idempotently(smsc: SmscSimulator, mode: str) -> None:
    async def scenario() -> None:
        async with bound(config(smsc, bind_mode=mode)) as client:
            assert (client.bound, client.smsc_system_id) == (True, "engage-sim")
        await client.close()
        assert not client.bound

    run(scenario())
    assert smsc.stats()["binds"] == 1


def test_concurrent_connects_share_one_bind(smsc: SmscSimulator) -> None:
    async def scenario() -> None:
        client = EsmeClient(config(smsc))
        await asyncio.gather(client.connect(), client.connect(), client.connect())
        await client.close()

    run(scenario())
    assert smsc.stats()["binds"] == 1


def test_submits_return_distinct_message_ids(smsc: SmscSimulator) -> None:
    async def scenario() -> list[Any]:
        async with bound(config(smsc)) as client:
            return await asyncio.gather(*(send_one(client, n) for n in range(20)))

    results = run(scenario())
    assert all(r.status == 0 for r in results)
    assert len({r.message_id for r in results}) == 20


def test_window_caps_outstanding_submits_per_bind(smsc_factory: Factory) -> None:
    sim = smsc_factory(response_delay=0.05)

    async def scenario() -> None:
        async with bound(config(sim, window=4)) as client:
            tasks = [asyncio.ensure_future(send_one(client, n)) for n in range(30)]
            await asyncio.sleep(0.02)
            assert client.in_flight == 4
            await asyncio.gather(*tasks)
            assert client.in_flight == 0

    run(scenario())
    assert sim.stats()["max_outstanding"] == 4


def test_receipts_arrive_with_matching_ids_and_both_tlvs(smsc: SmscSimulator) -> None:
    inbox = Inbox()

    async def scenario() -> set[str]:
        async with bound(config(smsc), inbox) as client:
            results = await asyncio.gather(*(send_one(client, n) for n in range(5)))
            await wait_until(lambda: len(inbox.items) == 5)
        return {r.message_id for r in results}

    ids = run(scenario())
    assert {d.receipted_message_id for d in inbox.items} == ids
    assert {(d.message_state, d.esm_class) for d in inbox.items} == {(2, 0x04)}
    assert {receipt_from_deliver(d).message_id for d in inbox.items} == ids
    assert smsc.stats()["receipts_acked"] == 5


REFUSALS = [({"throttle_rate": 1.0}, consts.SMPP_ESME_RTHROTTLED),
            ({"fail_rate": 1.0}, consts.SMPP_ESME_RSUBMITFAIL)]


@pytest.mark.parametrize(("rates", "status"), REFUSALS, ids=["throttled", "failed"])
def test_refused_submit_returns_a_status_not_an_error(
    smsc_factory: Factory, rates: dict, status: int
) -> None:
    sim = smsc_factory(**rates)

    async def scenario() -> Any:
        async with bound(config(sim)) as client:
            return await send_one(client)

    result = run(scenario())
    assert (result.status, result.message_id) == (status, None)


def test_deliver_refused_by_on_deliver_is_resent_and_then_acked(smsc_factory: Factory) -> None:
    sim = smsc_factory(receipt_delay=0.0, retry_delay=0.05)
    attempts: list[str | None] = []

    async def flaky(d: DeliverSm) -> None:
        attempts.append(d.receipted_message_id)
        if len(attempts) == 1:
            raise RuntimeError("database briefly unavailable")

    async def scenario() -> str:
        async with bound(config(sim), flaky) as client:
            result = await send_one(client)
            await wait_until(lambda: sim.stats()["receipts_acked"] == 1)
        return result.message_id

    message_id = run(scenario())
    assert attempts == [message_id, message_id]
    assert sim.stats()["receipts_nacked"] == 1


def test_dropped_connection_fails_pending_submits_with_connection_error(smsc_factory: Factory) -> None:
    sim = smsc_factory(response_delay=10.0)

    async def scenario() -> list[Any]:
        async with bound(config(sim, window=5)) as client:
            pending = [asyncio.ensure_future(send_one(client, n)) for n in range(8)]
            await wait_until(lambda: sim.stats()["submits"] == 5)
            sim.drop_connections()
            outcomes = await asyncio.gather(*pending, return_exceptions=True)
            assert (client.bound, client.in_flight) == (False, 0)
        return outcomes

    assert all(isinstance(o, SmppConnectionError) for o in run(scenario()))


def test_after_a_drop_submit_raises_connection_error_until_connect_binds_again(smsc: SmscSimulator) -> None:
    async def scenario() -> Any:
        async with bound(config(smsc)) as client:
            smsc.drop_connections()
            await wait_until(lambda: not client.bound)
            with pytest.raises(SmppConnectionError):
                await send_one(client)
            await client.connect()
            return await send_one(client)

    assert run(scenario()).status == 0
    assert smsc.stats()["binds"] == 2


def test_unanswered_submit_raises_submit_timeout(smsc_factory: Factory) -> None:
    sim = smsc_factory(response_delay=5.0)

    async def scenario() -> None:
        async with bound(config(sim, response_timeout=0.2)) as client:
            with pytest.raises(SubmitTimeout) as timed_out:
                await send_one(client)
            assert isinstance(timed_out.value, asyncio.TimeoutError)
            assert client.in_flight == 0

    run(scenario())


def test_enquire_link_is_sent_every_interval(smsc: SmscSimulator) -> None:
    async def scenario() -> None:
        async with bound(config(smsc, enquire_link_interval=0.05)) as client:
            await wait_until(lambda: smsc.stats()["enquire_links"] >= 3)
            assert client.bound

    run(scenario())


def test_generic_nack_answers_that_submit_with_the_nack_status() -> None:
    def script(pdu: Any) -> list[bytes]:
        if pdu.command == "submit_sm":
            nack = codec.make("generic_nack", sequence=pdu.sequence, status=consts.SMPP_ESME_RINVCMDLEN)
            return [codec.encode(nack)]
        return reply(pdu)

    async def scenario() -> Any:
        async with scripted_smsc(script) as port, bound(config(port)) as client:
            return await send_one(client)

    result = run(scenario())
    assert (result.status, result.message_id) == (consts.SMPP_ESME_RINVCMDLEN, None)


def test_deliver_sm_with_an_unknown_tlv_is_delivered_and_acked() -> None:
    inbox, acks = Inbox(), []
    receipt = codec.make("deliver_sm", sequence=77, source_addr="254700000001", destination_addr="ENGAGE",
                         esm_class=4, short_message=b"id:abc stat:DELIVRD", receipted_message_id="abc")

    def script(pdu: Any) -> list[bytes]:
        if pdu.command == "deliver_sm_resp":
            acks.append(pdu)
            return []
        unsolicited = [with_vendor_tlv(codec.encode(receipt))] if pdu.command.startswith("bind") else []
        return reply(pdu) + unsolicited

    async def scenario() -> None:
        async with scripted_smsc(script) as port, bound(config(port), inbox):
            await wait_until(lambda: bool(acks))

    run(scenario())
    assert inbox.items[0].receipted_message_id == "abc"
    assert (acks[0].sequence, acks[0].status) == (77, 0)


def answers_to_unsolicited(command: str) -> list[Any]:
    """Bind to a scripted SMSC that sends ``command`` right after bind_resp; return the client's answers."""
    answers: list[Any] = []

    def script(pdu: Any) -> list[bytes]:
        if pdu.command.startswith("bind_"):
            return reply(pdu) + [codec.encode(codec.make(command, sequence=500))]
        if pdu.command == "unbind":
            return reply(pdu)
        answers.append(pdu)
        return []

    async def scenario() -> None:
        async with scripted_smsc(script) as port, bound(config(port)) as client:
            await wait_until(lambda: bool(answers) and (command != "unbind" or not client.bound))

    run(scenario())
    return answers


@pytest.mark.parametrize("command", ["enquire_link", "unbind"])
def test_enquire_link_and_unbind_from_the_smsc_are_answered(command: str) -> None:
    answer = answers_to_unsolicited(command)[0]
    assert (answer.command, answer.sequence, answer.status) == (f"{command}_resp", 500, 0)


def test_unanswered_enquire_link_drops_the_connection() -> None:
    def script(pdu: Any) -> list[bytes]:
        return reply(pdu) if pdu.command.startswith("bind_") else []

    async def scenario() -> None:
        cfg = dict(enquire_link_interval=0.05, response_timeout=0.1)
        async with scripted_smsc(script) as port, bound(config(port, **cfg)) as client:
            await wait_until(lambda: not client.bound)
            with pytest.raises(SmppConnectionError):
                await send_one(client)

    run(scenario())


def test_thousand_submits_through_a_window_of_fifty_all_get_ids_and_receipts(smsc: SmscSimulator) -> None:
    receipt_ids: set[str] = set()

    async def on_deliver(d: DeliverSm) -> None:
        receipt_ids.add(receipt_from_deliver(d).message_id)

    async def scenario() -> set[str]:
        async with bound(config(smsc, window=50), on_deliver) as client:
            results = await asyncio.gather(*(send_one(client, n) for n in range(1000)))
            await wait_until(lambda: len(receipt_ids) == 1000, timeout=15)
        return {r.message_id for r in results}

    ids = run(scenario())
    assert len(ids) == 1000
    assert receipt_ids == ids


def test_a_response_after_its_timeout_is_ignored_and_the_bind_goes_on() -> None:
    held: list[Any] = []

    def script(pdu: Any) -> list[bytes]:
        if pdu.command != "submit_sm":
            return reply(pdu)
        if not held:
            held.append(pdu)
            return []
        late = codec.encode(codec.make("submit_sm_resp", sequence=held[0].sequence, message_id="late"))
        return [late, *reply(pdu, message_id="on-time")]

    async def scenario() -> Any:
        async with scripted_smsc(script) as port, bound(config(port, response_timeout=0.2)) as client:
            with pytest.raises(SubmitTimeout):
                await send_one(client)
            return await send_one(client), client.bound

    result, still_bound = run(scenario())
    assert (result.message_id, still_bound) == ("on-time", True)
