"""Fuzz: a hostile SMSC sends generated PDUs (well-formed, corrupted, or plain garbage) right after
the bind, over real TCP, to the SMPP provider (ESME client, receipt and MO parsing). Whatever arrives,
it answers or drops the connection; nothing raises out of its tasks, nothing hangs, the sink gets only
decoded receipts and messages, and the next send ends in an outcome."""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage.engine.providers.base import SendOutcome
from engage.engine.smpp import codec
from tests.smpp_helpers import Sink, provider_settings, running, sms

COMMANDS = [0x00000005, 0x80000004, 0x80000000, 0x00000015, 0x00000006, 0x80000015, 0x00000103, 0x00000004,
            0x80000009, 0x12345678]
TEXT = st.binary(max_size=40) | st.sampled_from([b"id:AB\x00CD sub:001 dlvrd:001 stat:DELIVRD err:000",
                                                 b"id: stat:", b"\xff\xfe\x00", b"id:" + b"9" * 200 + b" stat:UNDELIV"])

ADDRESS = st.text(st.characters(min_codepoint=1, max_codepoint=0xFF), max_size=20)


@st.composite
def deliver_sm(draw: st.DrawFn) -> bytes:
    fields: dict[str, Any] = {
        "source_addr": draw(ADDRESS | st.just("254700000001")),
        "destination_addr": "ENGAGE",
        "esm_class": draw(st.sampled_from([0, 4, 8, 0x40, 0x44, 255])),
        "data_coding": draw(st.sampled_from([0, 3, 4, 8, 0xF0, 255])),
        "short_message": draw(TEXT),
    }
    if draw(st.booleans()):
        fields["receipted_message_id"] = draw(ADDRESS)
    return codec.encode(codec.make("deliver_sm", sequence=draw(st.integers(1, 0x7FFFFFFF)), **fields))


@st.composite
def raw_pdu(draw: st.DrawFn) -> bytes:
    body = draw(st.binary(max_size=300))
    command_id = draw(st.sampled_from(COMMANDS) | st.integers(0, 0xFFFFFFFF))
    status, sequence = draw(st.integers(0, 0xFFFFFFFF)), draw(st.integers(0, 0xFFFFFFFF))
    length = draw(st.just(16 + len(body)) | st.integers(0, 0xFFFFFFFF))
    return struct.pack(">LLLL", length, command_id, status, sequence) + body


@st.composite
def corrupted(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(deliver_sm()))
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(4, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(16, len(data)))]
        data[:4] = struct.pack(">L", len(data))
    return bytes(data)


PDUS = st.lists(deliver_sm() | raw_pdu() | corrupted() | st.binary(min_size=1, max_size=64), min_size=1, max_size=4)


async def _hostile_session(pdus: list[bytes]) -> tuple[Sink, list[dict[str, Any]], SendOutcome]:
    unhandled: list[dict[str, Any]] = []
    binds: list[str] = []  # the noise comes once, on the first bind, as from an SMSC that then recovers
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: unhandled.append(context))

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (pdu := await codec.read_pdu(reader)) is not None:
                if pdu.command.startswith("bind_") or pdu.command in ("submit_sm", "enquire_link", "unbind"):
                    fields = {"message_id": "m1"} if pdu.command == "submit_sm" else {}
                    writer.write(codec.encode(codec.make(f"{pdu.command}_resp", sequence=pdu.sequence, **fields)))
                if pdu.command.startswith("bind_") and not binds:
                    for raw in pdus:
                        writer.write(raw)
                binds.append(pdu.command) if pdu.command.startswith("bind_") else None
                await writer.drain()
        except (ConnectionError, codec.PduError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    sink = Sink()
    async with server:
        port = server.sockets[0].getsockname()[1]
        quick = provider_settings(port, response_timeout=0.5, enquire_link_interval=0.5, binds=1)
        async with running(quick, sink=sink) as provider:
            outcome = await provider.send(sms(1, "after the noise"))
    return sink, unhandled, outcome


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pdus=PDUS)
def test_generated_pdus_never_crash_or_hang_the_provider(pdus: list[bytes]) -> None:
    started = time.monotonic()
    sink, unhandled, outcome = asyncio.run(asyncio.wait_for(_hostile_session(pdus), timeout=30))
    assert time.monotonic() - started < 20, "the provider took too long to get over the noise"
    assert unhandled == []
    assert outcome.ok or isinstance(outcome.error, str)  # sent, or a provider error: never an exception
    assert all(isinstance(r.message_id, str) and isinstance(r.stat, str) for r in sink.receipts)
    assert all(isinstance(m.source, str) and isinstance(m.text, str) for m in sink.replies)
