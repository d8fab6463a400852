"""One SMPP TCP connection as an asyncio Protocol: whole PDUs in, whole PDUs out.

Both ends of engage's SMPP (the ESME client and the SMSC simulator) sit on this. It exists
for throughput: PDUs are cut out of each received chunk and handed on in the same call
(no reader task waking per PDU), and everything sent during one event-loop turn leaves in a
single ``transport.write`` (one syscall for a window's worth of submits or receipts).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

from engage.engine.smpp import codec

__all__ = ["PduStream"]

log = logging.getLogger(__name__)


class PduStream(asyncio.Protocol):
    """``on_pdu(pdu)`` for each decoded PDU, ``on_bad_pdu(DecodeError)`` for one that did not decode
    (framing intact), ``on_lost(reason)`` once when the connection ends (``None``: closed cleanly).

    With ``pause_reading_when_blocked`` the peer is not read while our own writes back up, which
    is how an SMSC pushes back on an ESME that does not read its responses.
    """

    def __init__(self, on_pdu: Callable[[Any], None], on_bad_pdu: Callable[[codec.DecodeError], None],
                 on_lost: Callable[[BaseException | None], None], *, pause_reading_when_blocked: bool = False):
        self._on_pdu, self._on_bad_pdu, self._on_lost = on_pdu, on_bad_pdu, on_lost
        self._pause_reading = pause_reading_when_blocked
        self.transport: asyncio.Transport | None = None
        self._partial = b""
        self._out: list[bytes] = []
        self._flush_pending = False
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._lost = False
        self._reason: BaseException | None = None
        self.loop = asyncio.get_running_loop()

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self._partial:
            data = self._partial + data
        pos, end = 0, len(data)
        decode, on_pdu = codec.decode, self._on_pdu
        while end - pos >= 4 and not self._lost:
            length = int.from_bytes(data[pos:pos + 4], "big")
            if length < codec.MIN_PDU_LENGTH or length > codec.MAX_PDU_LENGTH:
                self.abort(codec.FramingError(
                    f"command_length {length} outside {codec.MIN_PDU_LENGTH}..{codec.MAX_PDU_LENGTH}:"
                    " the stream is not SMPP or is corrupt"))
                return
            if end - pos < length:
                break
            chunk = data[pos:pos + length]
            pos += length
            try:
                pdu = decode(chunk)
            except codec.DecodeError as exc:
                self._on_bad_pdu(exc)
                continue
            try:
                on_pdu(pdu)
            except Exception as exc:  # a bug in a handler: this session cannot be trusted to go on
                log.exception("handling %s failed; dropping the connection", getattr(pdu, "command", "?"))
                self.abort(exc)
                return
        self._partial = data[pos:] if pos < end else b""

    def eof_received(self) -> bool | None:
        if self._partial:
            self._reason = codec.FramingError(f"connection closed inside a PDU ({len(self._partial)} bytes read)")
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost and self._reason is None:
            self._reason = exc
        self._lost = True
        self._out.clear()
        self._wake_drainers()
        self._on_lost(self._reason or exc)

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._pause_reading and self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._pause_reading and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
        self._wake_drainers()

    # -- sending ------------------------------------------------------------------------------
    @property
    def closing(self) -> bool:
        return self._lost or self.transport is None or self.transport.is_closing()

    def send(self, data: bytes) -> bool:
        """Queue whole PDU bytes; they leave with everything else queued this loop turn.
        ``False`` when the connection is already going away (nothing was queued)."""
        if self._lost or self.transport is None or self.transport.is_closing():
            return False
        self._out.append(data)
        if not self._flush_pending:
            self._flush_pending = True
            self.loop.call_soon(self._flush)
        return True

    def _flush(self) -> None:
        self._flush_pending = False
        out = self._out
        if not out:
            return
        self._out = []
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(out[0] if len(out) == 1 else b"".join(out))

    @property
    def write_blocked(self) -> bool:
        """True while the transport's buffer is over its high-water mark: :meth:`drain` would wait."""
        return self._write_paused and not self._lost

    async def drain(self) -> None:
        """Wait while the transport's buffer is over its high-water mark."""
        if self._write_paused and not self._lost:
            waiter = self.loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def _wake_drainers(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def close(self) -> None:
        """Send what is queued, then close."""
        self._flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self, reason: BaseException | None = None) -> None:
        """Drop the connection now, unsent data and all."""
        if self._reason is None:
            self._reason = reason
        self._lost = True
        if self.transport is not None:
            self.transport.abort()
