"""The SMPP wire codec: smpplib for the rare PDUs, the hand-written fast path for the per-part
ones, each checked against the other; framing of the byte stream."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Coroutine
from typing import Any

import pytest
from smpplib import consts

from engage.engine.smpp import codec, fastpdu
from engage.engine.smpp.wire import PduStream

VENDOR_TLV = 0x1401  # in the vendor-specific range: no library knows it


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


def with_vendor_tlv(raw: bytes) -> bytes:
    extended = raw + struct.pack(">HH", VENDOR_TLV, 4) + b"\xde\xad\xbe\xef"
    return struct.pack(">L", len(extended)) + extended[4:]


def test_unknown_tlv_in_a_pdu_is_skipped_and_kept_aside() -> None:
    raw = codec.encode(codec.make("deliver_sm", sequence=3, source_addr="1", destination_addr="2",
                                  short_message=b"x", message_state=5))
    pdu = codec.decode(with_vendor_tlv(raw))
    assert (pdu.message_state, pdu.short_message) == (5, b"x")
    assert pdu.unknown_tlvs == {VENDOR_TLV: b"\xde\xad\xbe\xef"}


def test_submit_sm_resp_error_goes_out_header_only_and_decodes_without_message_id() -> None:
    resp = codec.make("submit_sm_resp", sequence=42, status=consts.SMPP_ESME_RTHROTTLED, message_id="x")
    assert codec.encode(resp) == struct.pack(">LLLL", 16, 0x80000004, 0x58, 42)
    pdu = codec.decode(codec.encode(resp))
    assert (pdu.command, pdu.status, pdu.sequence, pdu.message_id) == ("submit_sm_resp", 0x58, 42, None)


async def read_from(data: bytes) -> Any:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return await codec.read_pdu(reader)


def test_read_pdu_rejects_an_absurd_command_length() -> None:
    with pytest.raises(codec.FramingError, match="command_length"):
        run(read_from(struct.pack(">LL", 1 << 20, 4)))


def test_read_pdu_returns_none_on_clean_eof() -> None:
    assert run(read_from(b"")) is None


def test_sequence_source_wraps_back_to_one_after_the_maximum() -> None:
    seq = codec.SequenceSource(start=0x7FFFFFFF)
    assert [seq.next_sequence(), seq.next_sequence()] == [0x7FFFFFFF, 1]


SM_FIELDS = {"service_type": "CMT", "source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "Engage",
             "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "254700000001", "esm_class": 0x40,
             "protocol_id": 0, "priority_flag": 1, "registered_delivery": 1, "data_coding": 8,
             "short_message": b"\x05\x00\x03\x07\x02\x01\x00h\x00i"}
SM_TLVS = {"sar_msg_ref_num": 300, "sar_total_segments": 2, "sar_segment_seqnum": 1,
           "receipted_message_id": "abc123", "message_state": 2, "network_error_code": b"\x03\x00\x22"}


def smpplib_parse(raw: bytes) -> Any:
    from smpplib import smpp

    pdu = smpp.make_pdu(codec.command_codes.get_command_name(struct.unpack(">L", raw[4:8])[0]), sequence=1,
                        allow_unknown_opt_params=True)
    pdu.parse(raw)
    return pdu


@pytest.mark.parametrize("command", ["submit_sm", "deliver_sm"])
def test_hand_written_decoding_reads_what_smpplib_writes(command: str) -> None:
    tlvs = {k: v for k, v in SM_TLVS.items() if command == "deliver_sm" or k.startswith("sar")}
    pdu = codec.decode(codec.encode(codec.make(command, sequence=5, **SM_FIELDS, **tlvs)))
    assert isinstance(pdu, fastpdu.Pdu) and (pdu.command, pdu.sequence) == (command, 5)
    for name, value in {**SM_FIELDS, **tlvs}.items():
        assert getattr(pdu, name) == (value.encode() if isinstance(value, str) else value), name


@pytest.mark.parametrize("command", ["submit_sm", "deliver_sm"])
def test_hand_written_encoding_is_what_smpplib_reads(command: str) -> None:
    tlvs = {k: v for k, v in SM_TLVS.items() if command == "deliver_sm" or k.startswith("sar")}
    pdu = smpplib_parse(fastpdu.encode_sm(fastpdu.COMMAND_IDS[command], 6, {**SM_FIELDS, **tlvs}))
    for name, value in {**SM_FIELDS, **tlvs}.items():
        assert getattr(pdu, name) == (value.encode() if isinstance(value, str) else value), name


def test_the_clients_submit_sm_is_what_smpplib_reads() -> None:
    encoder = fastpdu.SubmitEncoder("", 5, 0, 1, 1)
    raw = encoder.encode(9, "Engage", "254700000001", b"hello", 0, 0x40, 1, fastpdu.encode_tlvs({"sar_msg_ref_num": 1}))
    pdu = smpplib_parse(raw)
    assert (pdu.sequence, pdu.source_addr, pdu.destination_addr, pdu.short_message) == \
        (9, b"Engage", b"254700000001", b"hello")
    assert (pdu.esm_class, pdu.registered_delivery, pdu.sar_msg_ref_num, pdu.source_addr_ton) == (0x40, 1, 1, 5)


def test_a_truncated_submit_sm_is_a_decode_error_answered_with_invalid_length() -> None:
    raw = codec.encode(codec.make("submit_sm", sequence=4, source_addr="1", destination_addr="2",
                                  short_message=b"hello"))
    cut = struct.pack(">L", len(raw) - 3) + raw[4:-3]
    with pytest.raises(codec.DecodeError) as bad:
        codec.decode(cut)
    assert (bad.value.sequence, bad.value.nack_status) == (4, consts.SMPP_ESME_RINVCMDLEN)


def test_pdus_arriving_a_byte_at_a_time_or_many_per_packet_are_all_read() -> None:
    delivers = [codec.encode(codec.make("deliver_sm", sequence=100 + n, source_addr="2547", destination_addr="E",
                                        short_message=b"mo %d" % n)) for n in range(20)]
    got: list[Any] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for byte in delivers[0]:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.001)
        writer.write(b"".join(delivers[1:]))
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        lost = asyncio.get_running_loop().create_future()
        async with server:
            await asyncio.get_running_loop().create_connection(
                lambda: PduStream(got.append, got.append, lost.set_result), "127.0.0.1",
                server.sockets[0].getsockname()[1])
            assert await asyncio.wait_for(lost, 5) is None  # a clean close between PDUs

    run(scenario())
    assert [(p.sequence, p.short_message) for p in got] == [(100 + n, b"mo %d" % n) for n in range(20)]


def test_a_connection_cut_inside_a_pdu_ends_with_a_framing_error() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(fastpdu.header_only(fastpdu.ENQUIRE_LINK, 0, 1)[:10])
        await writer.drain()
        writer.close()

    async def scenario() -> Any:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        lost = asyncio.get_running_loop().create_future()
        async with server:
            await asyncio.get_running_loop().create_connection(
                lambda: PduStream(print, print, lost.set_result), "127.0.0.1", server.sockets[0].getsockname()[1])
            return await asyncio.wait_for(lost, 5)

    assert isinstance(run(scenario()), codec.FramingError)
