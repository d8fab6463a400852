"""What the SMPP provider tests share: a sink that keeps what it is given, a provider running
against a port, and a bare scripted SMSC for the wire situations the simulator never creates."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from engage.engine.providers.base import InboundSms, OutboundSms, SendOutcome
from engage.engine.providers.smpp import SmppProvider
from engage.engine.smpp import codec, fastpdu
from engage.engine.smpp.receipts_text import DeliveryReport

GSM_LONG = ("Top up 20,000 this week and earn double points {bonus} [gold] ~ €5 off | " * 4)[:300]
UCS2_LONG = ("Привет! Двойные баллы за пополнение 😀 на этой неделе. " * 4)[:200]
VENDOR_TLV = struct.pack(">HH", 0x1401, 4) + b"\xde\xad\xbe\xef"


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


class Sink:
    def __init__(self) -> None:
        self.receipts: list[DeliveryReport] = []
        self.replies: list[InboundSms] = []

    async def receipt(self, provider_id: int, receipt: DeliveryReport) -> None:
        self.receipts.append(receipt)

    async def inbound(self, provider_id: int, sms: InboundSms) -> None:
        self.replies.append(sms)


def provider_settings(port: int, **overrides: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "system_id": "engage", "password": "secret",
            "response_timeout": 2.0, **overrides}


@contextlib.asynccontextmanager
async def running(config: dict[str, Any], tps: int = 5000, sink: Sink | None = None) -> AsyncIterator[SmppProvider]:
    provider = SmppProvider(1, "test", config, tps, sink or Sink())
    await provider.start()
    try:
        yield provider
    finally:
        await provider.stop()


def sms(n: int, text: str = "hello", sender: str = "Engage") -> OutboundSms:
    return OutboundSms(n, f"+2547{n:08d}", sender, text)


async def send_all(provider: SmppProvider, count: int, text: str = "hello") -> list[SendOutcome]:
    return list(await asyncio.gather(*(provider.send(sms(n, text)) for n in range(count))))


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class ScriptedSmsc:
    """A bare SMSC: binds are accepted, every other request is answered by ``script(pdu, connection)``
    with raw bytes (or nothing); ``submits`` and ``connections`` are counted."""

    def __init__(self, script: Callable[[Any, int], list[bytes]]) -> None:
        self.script, self.connections, self.submits = script, 0, []
        self.server: asyncio.Server | None = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = self.connections
        try:
            while (pdu := await codec.read_pdu(reader)) is not None:
                if pdu.command.startswith("bind_"):
                    replies = [codec.encode(codec.make(f"{pdu.command}_resp", sequence=pdu.sequence))]
                else:
                    if pdu.command == "submit_sm":
                        self.submits.append(pdu)
                    replies = self.script(pdu, connection)
                for reply in replies:
                    writer.write(reply)
        except (ConnectionError, codec.PduError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


def ok(pdu: Any, message_id: str = "abc", tail: bytes = b"") -> list[bytes]:
    """A submit_sm_resp (or other plain response) accepting ``pdu``; ``tail`` is appended to the body."""
    if pdu.command != "submit_sm":
        return [fastpdu.header_only(pdu.command_id | 0x80000000, 0, pdu.sequence)]
    body = message_id.encode() + b"\0" + tail
    return [struct.pack(">LLLL", 16 + len(body), 0x80000004, 0, pdu.sequence) + body]


def header_only(pdu: Any, command_id: int, status: int) -> list[bytes]:
    return [fastpdu.header_only(command_id, status, pdu.sequence)]
