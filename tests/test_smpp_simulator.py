"""The SMSC simulator, seen from real ESMEs over TCP: EsmeClient, or a raw PDU session where the
client would refuse to send what the test needs."""

from __future__ import annotations

import asyncio
import re
import signal
import struct
import subprocess
import sys
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from smpplib import consts

from engage.engine.smpp import codec
from engage.engine.smpp.client import DeliverSm, EsmeClient, SmppConfig
from engage.engine.smpp.receipts_text import parse_receipt_text, receipt_from_deliver
from engage.simulators.smsc import SmscSimulator

Factory = Callable[..., SmscSimulator]


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


def config(sim: SmscSimulator, **overrides: Any) -> SmppConfig:
    settings: dict[str, Any] = {"system_id": "engage", "password": "secret", "response_timeout": 5.0}
    settings.update(overrides)
    return SmppConfig(host="127.0.0.1", port=sim.port, **settings)


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def submit_many(sim: SmscSimulator, count: int, **submit: Any) -> list[Any]:
    client = EsmeClient(config(sim))
    await client.connect()
    results = [
        await client.submit(source="ENGAGE", destination=f"2547{n:08d}", short_message=b"hello", **submit)
        for n in range(count)
    ]
    await client.close()
    return results


class RawSession:
    """One TCP connection speaking PDUs directly, with no client-side rules in the way."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.seq = reader, writer, codec.SequenceSource()

    @classmethod
    async def open(cls, sim: SmscSimulator) -> RawSession:
        return cls(*await asyncio.open_connection("127.0.0.1", sim.port))

    async def request(self, command: str, **fields: Any) -> Any:
        self.writer.write(codec.encode(codec.make(command, sequence=self.seq.next_sequence(), **fields)))
        return await codec.read_pdu(self.reader)

    async def bind(self, mode: str = "transceiver") -> Any:
        return await self.request(f"bind_{mode}", system_id="engage", password="secret")

    def close(self) -> None:
        self.writer.close()


def test_hex_ids_are_lowercase_hex_counting_up(smsc: SmscSimulator) -> None:
    ids = [r.message_id for r in run(submit_many(smsc, 3))]
    assert all(re.fullmatch(r"[0-9a-f]+", i) for i in ids)
    assert [int(i, 16) for i in ids] == [int(ids[0], 16) + n for n in range(3)]


def test_decimal_ids_are_digits(smsc_factory: Factory) -> None:
    ids = [r.message_id for r in run(submit_many(smsc_factory(id_format="decimal"), 3))]
    assert all(i.isdigit() for i in ids)


def test_uuid_ids_are_distinct_uuids(smsc_factory: Factory) -> None:
    ids = [r.message_id for r in run(submit_many(smsc_factory(id_format="uuid"), 3))]
    assert len({uuid.UUID(i) for i in ids}) == 3


def test_same_seed_gives_the_same_ids(smsc_factory: Factory) -> None:
    first = run(submit_many(smsc_factory(seed=7), 2))
    second = run(submit_many(smsc_factory(seed=7), 2))
    assert first == second


def test_accepted_submit_is_recorded_with_its_fields(smsc: SmscSimulator) -> None:
    async def scenario() -> Any:
        client = EsmeClient(config(smsc))
        await client.connect()
        result = await client.submit(source="SHOP", destination="254711000111", short_message=b"\x00h\x00i",
                                     data_coding=8)
        await client.close()
        return result

    result = run(scenario())
    [received] = smsc.received
    assert (received.message_id, received.system_id) == (result.message_id, "engage")
    assert (received.source, received.destination) == ("SHOP", "254711000111")
    assert (received.data_coding, received.short_message, received.concat) == (8, b"\x00h\x00i", None)


def test_throttled_and_failed_submits_are_counted_but_not_recorded(smsc_factory: Factory) -> None:
    sim = smsc_factory(throttle_rate=0.3, fail_rate=0.2)
    results = run(submit_many(sim, 200))
    stats = sim.stats()
    statuses = [r.status for r in results]
    assert stats["throttled"] == statuses.count(consts.SMPP_ESME_RTHROTTLED) > 0
    assert stats["failed"] == statuses.count(consts.SMPP_ESME_RSUBMITFAIL) > 0
    assert stats["accepted"] == statuses.count(0) == len(sim.received)
    assert stats["submits"] == 200


def test_undeliverable_receipts_say_undeliv_with_message_state_5(smsc_factory: Factory) -> None:
    sim = smsc_factory(undeliverable_rate=1.0, receipt_delay=0.0)
    delivered: list[DeliverSm] = []

    async def on_deliver(d: DeliverSm) -> None:
        delivered.append(d)

    async def scenario() -> None:
        client = EsmeClient(config(sim), on_deliver)
        await client.connect()
        await client.submit(source="ENGAGE", destination="254700000001", short_message=b"hello")
        await wait_until(lambda: len(delivered) == 1)
        await client.close()

    run(scenario())
    text = parse_receipt_text(delivered[0].short_message.decode())
    assert (text["stat"], text["err"], text["dlvrd"]) == ("UNDELIV", "001", "000")
    assert delivered[0].message_state == 5
    assert delivered[0].network_error_code == b"\x03\x00\x01"


def test_no_receipt_is_sent_when_none_was_requested(smsc_factory: Factory) -> None:
    sim = smsc_factory(receipt_delay=0.0)
    run(submit_many(sim, 3, registered_delivery=0))
    assert sim.stats()["receipts_sent"] == 0


def test_receipts_wait_for_a_receiver_bind_when_only_a_transmitter_is_bound(smsc: SmscSimulator) -> None:
    delivered: list[DeliverSm] = []

    async def on_deliver(d: DeliverSm) -> None:
        delivered.append(d)

    async def scenario() -> str:
        [result] = await submit_many(smsc, 1)
        await asyncio.sleep(0.1)
        receiver = EsmeClient(config(smsc, bind_mode="receiver"), on_deliver)
        await receiver.connect()
        await wait_until(lambda: len(delivered) == 1)
        await receiver.close()
        return result.message_id

    assert run(scenario()) == delivered[0].receipted_message_id


def test_receipts_round_robin_over_the_accounts_receiver_binds(smsc: SmscSimulator) -> None:
    counts = {"a": 0, "b": 0}

    def counter(name: str) -> Any:
        async def on_deliver(d: DeliverSm) -> None:
            counts[name] += 1

        return on_deliver

    async def scenario() -> None:
        a = EsmeClient(config(smsc, bind_mode="receiver"), counter("a"))
        b = EsmeClient(config(smsc, bind_mode="receiver"), counter("b"))
        await a.connect()
        await b.connect()
        await submit_many(smsc, 10)
        await wait_until(lambda: counts["a"] + counts["b"] == 10)
        await a.close()
        await b.close()

    run(scenario())
    assert counts == {"a": 5, "b": 5}


def test_unacked_deliveries_per_bind_never_exceed_the_deliver_window(smsc_factory: Factory) -> None:
    sim = smsc_factory(receipt_delay=0.0, deliver_window=3)
    busy, peak = 0, 0

    async def slow(d: DeliverSm) -> None:
        nonlocal busy, peak
        busy += 1
        peak = max(peak, busy)
        await asyncio.sleep(0.02)
        busy -= 1

    async def scenario() -> None:
        client = EsmeClient(config(sim), slow)
        await client.connect()
        await asyncio.gather(*(client.submit(source="ENGAGE", destination=f"2547{n:08d}", short_message=b"hi")
                               for n in range(12)))
        await wait_until(lambda: sim.stats()["receipts_acked"] == 12)
        await client.close()

    run(scenario())
    assert peak == 3


def test_stats_are_kept_per_system_id(smsc_factory: Factory) -> None:
    sim = smsc_factory(accounts={"alpha": "pw-a", "beta": "pw-b"})

    async def scenario() -> None:
        for system_id, password, count in (("alpha", "pw-a", 2), ("beta", "pw-b", 3)):
            client = EsmeClient(config(sim, system_id=system_id, password=password))
            await client.connect()
            for _ in range(count):
                await client.submit(source="X", destination="254700000000", short_message=b"x")
            await client.close()

    run(scenario())
    by_sid = sim.stats()["by_system_id"]
    assert (by_sid["alpha"]["submits"], by_sid["beta"]["submits"]) == (2, 3)
    assert {r.system_id for r in sim.received} == {"alpha", "beta"}


def test_submit_on_a_receiver_bind_is_refused_with_invalid_bind_status(smsc: SmscSimulator) -> None:
    async def scenario() -> Any:
        raw = await RawSession.open(smsc)
        await raw.bind("receiver")
        resp = await raw.request("submit_sm", source_addr="X", destination_addr="1", short_message=b"x")
        raw.close()
        return resp

    resp = run(scenario())
    assert (resp.command, resp.status) == ("submit_sm_resp", consts.SMPP_ESME_RINVBNDSTS)


def test_submit_before_binding_is_refused_with_invalid_bind_status(smsc: SmscSimulator) -> None:
    async def scenario() -> Any:
        raw = await RawSession.open(smsc)
        resp = await raw.request("submit_sm", source_addr="X", destination_addr="1", short_message=b"x")
        raw.close()
        return resp

    assert run(scenario()).status == consts.SMPP_ESME_RINVBNDSTS


def test_second_bind_on_one_connection_is_refused_as_already_bound(smsc: SmscSimulator) -> None:
    async def scenario() -> tuple[Any, Any]:
        raw = await RawSession.open(smsc)
        first, second = await raw.bind(), await raw.bind()
        raw.close()
        return first, second

    first, second = run(scenario())
    assert (first.status, second.status) == (0, consts.SMPP_ESME_RALYBND)


def test_unsupported_commands_get_generic_nack_invalid_command_id(smsc: SmscSimulator) -> None:
    async def scenario() -> tuple[Any, Any]:
        raw = await RawSession.open(smsc)
        await raw.bind()
        known_but_unsupported = await raw.request("query_sm", message_id="1", source_addr="X")
        raw.writer.write(struct.pack(">LLLL", 16, 0x0000ABCD, 0, 99))
        unknown = await codec.read_pdu(raw.reader)
        raw.close()
        return known_but_unsupported, unknown

    for nack in run(scenario()):
        assert (nack.command, nack.status) == ("generic_nack", consts.SMPP_ESME_RINVCMDID)


def test_absurd_command_length_closes_the_connection(smsc: SmscSimulator) -> None:
    async def scenario() -> Any:
        raw = await RawSession.open(smsc)
        raw.writer.write(struct.pack(">LLLL", 0x7FFFFFFF, 4, 0, 1))
        after = await codec.read_pdu(raw.reader)
        raw.close()
        return after

    assert run(scenario()) is None


def test_receipt_left_unacked_by_a_vanished_receiver_goes_to_the_next_bind(smsc_factory: Factory) -> None:
    sim = smsc_factory(receipt_delay=0.0)
    delivered: list[DeliverSm] = []

    async def on_deliver(d: DeliverSm) -> None:
        delivered.append(d)

    async def scenario() -> str:
        silent = await RawSession.open(sim)
        await silent.bind("receiver")
        [result] = await submit_many(sim, 1)
        first_try = await codec.read_pdu(silent.reader)
        assert first_try.command == "deliver_sm"
        silent.close()
        receiver = EsmeClient(config(sim, bind_mode="receiver"), on_deliver)
        await receiver.connect()
        await wait_until(lambda: len(delivered) == 1)
        await receiver.close()
        return result.message_id

    assert run(scenario()) == delivered[0].receipted_message_id
    assert sim.stats()["receipts_sent"] == 2


def receive_mo(smsc: SmscSimulator, text: str) -> list[DeliverSm]:
    """Bind a receiver, have the simulator send one MO message, return what arrived."""
    delivered: list[DeliverSm] = []

    async def on_deliver(d: DeliverSm) -> None:
        delivered.append(d)

    async def scenario() -> None:
        client = EsmeClient(config(smsc, bind_mode="receiver"), on_deliver)
        await client.connect()
        smsc.deliver_mo("254700000001", "22555", text)
        await wait_until(lambda: len(delivered) == 1)
        await client.close()

    run(scenario())
    return delivered


def test_mo_message_reaches_on_deliver_and_is_not_a_receipt(smsc: SmscSimulator) -> None:
    [mo] = receive_mo(smsc, "STOP")
    assert (mo.source_addr, mo.destination_addr, mo.short_message) == ("254700000001", "22555", b"STOP")
    assert (mo.esm_class, mo.data_coding) == (0, 0)
    assert receipt_from_deliver(mo) is None
    assert smsc.stats()["mo_acked"] == 1


def test_mo_text_outside_ascii_goes_out_as_ucs2(smsc: SmscSimulator) -> None:
    delivered = receive_mo(smsc, "Habari 😀")
    assert delivered[0].data_coding == 8
    assert delivered[0].short_message.decode("utf-16-be") == "Habari 😀"
    assert receipt_from_deliver(delivered[0]) is None


def test_cli_serves_logs_each_bind_and_stops_cleanly_on_sigterm() -> None:
    code = "import sys; from engage.simulators.smsc_cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", "--system-id", "cli", "--password", "pw", "--seed", "3"],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert match, line
        port = int(match.group(1))

        async def bind_once() -> None:
            client = EsmeClient(SmppConfig("127.0.0.1", port, "cli", "pw"))
            await client.connect()
            await client.close()

        run(bind_once())
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "bind transceiver accepted for 'cli'" in rest


def test_cli_rejects_mismatched_system_ids_and_passwords() -> None:
    from engage.simulators.smsc_cli import main

    with pytest.raises(SystemExit):
        main(["--system-id", "a", "--system-id", "b", "--system-id", "c", "--password", "1",
              "--password", "2"])
