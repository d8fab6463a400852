"""Asyncio SMPP 3.4 ESME: one bind, a bounded window of submits, receipts handed to the caller.

One TCP connection is one bind. Reconnecting, rate limiting and routing are the
caller's business; this class only guarantees that every submit gets exactly one
outcome (a response, a timeout, or a connection error) and that a deliver_sm is
acknowledged only after the caller has taken responsibility for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from smpplib import consts

from engage.engine.smpp import codec

__all__ = ["BindError", "DeliverSm", "EsmeClient", "ResponseTimeout", "SmppConfig", "SmppConnectionError",
           "SmppError", "SubmitResult", "SubmitTimeout", "deliver_from_pdu"]

log = logging.getLogger(__name__)

BIND_MODES = ("transceiver", "transmitter", "receiver")
UNBIND_WAIT = 2.0  # seconds; an SMSC that does not answer unbind quickly is not worth waiting for


class SmppError(Exception):
    """Base for SMPP session failures."""


class BindError(SmppError):
    """The SMSC refused the bind; ``status`` is its command_status (e.g. 0x0E bad password)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused with status {status:#04x}: {consts.DESCRIPTIONS.get(status, '?')}")
        self.status = status


class SmppConnectionError(SmppError, ConnectionError):
    """The session is gone (or never was); whatever was in flight has unknown outcome."""


class ResponseTimeout(SmppError, TimeoutError):
    """The SMSC did not answer a request within ``response_timeout``."""


class SubmitTimeout(ResponseTimeout):
    """No submit_sm_resp in time: the message may or may not have been accepted."""


@dataclass
class SmppConfig:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    bind_mode: str = "transceiver"
    window: int = 10
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    source_ton: int = 5
    source_npi: int = 0
    dest_ton: int = 1
    dest_npi: int = 1

    def __post_init__(self) -> None:
        if self.bind_mode not in BIND_MODES:
            raise ValueError(f"bind_mode must be one of {BIND_MODES}, not {self.bind_mode!r}")
        if self.window < 1:
            raise ValueError("window must be at least 1")


@dataclass
class SubmitResult:
    status: int
    message_id: str | None


@dataclass
class DeliverSm:
    source_addr: str
    destination_addr: str
    esm_class: int
    data_coding: int
    short_message: bytes
    receipted_message_id: str | None
    message_state: int | None
    network_error_code: bytes | None
    sar: tuple[int, int, int] | None
    message_payload: bytes | None


OnDeliver = Callable[[DeliverSm], Awaitable[None]]


class EsmeClient:
    def __init__(self, config: SmppConfig, on_deliver: OnDeliver | None = None) -> None:
        self.config = config
        self.smsc_system_id: str | None = None
        self._on_deliver = on_deliver
        self._window = asyncio.Semaphore(config.window)
        self._connecting = asyncio.Lock()
        self._seq = codec.SequenceSource()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._deliveries: set[asyncio.Task[None]] = set()
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._bound = False
        self._in_flight = 0

    @property
    def bound(self) -> bool:
        return self._bound

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def connect(self) -> None:
        """Open TCP and bind; a no-op when already bound, a fresh session after a loss or close.

        Concurrent callers (say, every sender that just saw the connection drop) share one attempt.
        """
        async with self._connecting:
            if not self._bound:
                await self._connect()

    async def _connect(self) -> None:
        await self._teardown()
        cfg = self.config
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(cfg.host, cfg.port), timeout=cfg.response_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise SmppConnectionError(f"cannot connect to {cfg.host}:{cfg.port}: {exc!r}") from exc
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read_loop(reader, writer))
        bind = codec.make(f"bind_{cfg.bind_mode}", sequence=self._seq.next_sequence(),
                          system_id=cfg.system_id, password=cfg.password, system_type=cfg.system_type)
        try:
            resp = await self._request(bind)
        except ResponseTimeout as exc:
            await self._teardown()
            raise SmppConnectionError(f"no bind response within {cfg.response_timeout}s") from exc
        except BaseException:
            await self._teardown()
            raise
        if resp.status != consts.SMPP_ESME_ROK or resp.command == "generic_nack":
            await self._teardown()
            raise BindError(resp.status or consts.SMPP_ESME_RBINDFAIL)
        self._bound = True
        self.smsc_system_id = codec.opt_str(getattr(resp, "system_id", None))
        log.info("bound %s as %s to %s:%s", cfg.system_id, cfg.bind_mode, cfg.host, cfg.port)
        if cfg.enquire_link_interval > 0:
            self._keepalive_task = asyncio.create_task(self._keepalive(cfg.enquire_link_interval))

    async def submit(
        self,
        *,
        source: str,
        destination: str,
        short_message: bytes,
        data_coding: int = 0,
        esm_class: int = 0,
        registered_delivery: int = 1,
        tlvs: dict[str, Any] | None = None,
    ) -> SubmitResult:
        """Send one submit_sm once a window slot is free; an SMPP error status is returned, not raised.

        ``tlvs`` use smpplib's names (``sar_msg_ref_num``, ``message_payload``, ...); string-typed
        TLVs take ``str``, octet ones ``bytes``.
        """
        cfg = self.config
        if cfg.bind_mode == "receiver":
            raise SmppError("a receiver bind cannot submit")
        if len(short_message) > 254:
            raise ValueError(f"short_message is {len(short_message)} octets; use the message_payload TLV")
        extra = dict(tlvs or {})
        unknown = set(extra) - codec.SUBMIT_SM_TLVS
        if unknown:
            raise ValueError(f"unknown submit_sm TLVs: {sorted(unknown)}")
        async with self._window:
            if not self._bound:
                raise SmppConnectionError("not bound")
            pdu = codec.make(
                "submit_sm",
                sequence=self._seq.next_sequence(),
                source_addr_ton=cfg.source_ton,
                source_addr_npi=cfg.source_npi,
                source_addr=source,
                dest_addr_ton=cfg.dest_ton,
                dest_addr_npi=cfg.dest_npi,
                destination_addr=destination,
                esm_class=esm_class,
                registered_delivery=registered_delivery,
                data_coding=data_coding,
                short_message=short_message,
                **extra,
            )
            self._in_flight += 1
            try:
                resp = await self._request(pdu, SubmitTimeout)
            finally:
                self._in_flight -= 1
        if resp.command == "generic_nack":
            return SubmitResult(status=resp.status or consts.SMPP_ESME_RSYSERR, message_id=None)
        return SubmitResult(status=resp.status, message_id=codec.opt_str(getattr(resp, "message_id", None)))

    async def close(self) -> None:
        """Let running deliver handlers finish, unbind politely, drop the socket. Safe to repeat."""
        if self._writer is None and self._reader_task is None:
            return
        if self._deliveries:
            _, late = await asyncio.wait(set(self._deliveries), timeout=self.config.response_timeout)
            for task in late:
                task.cancel()
        if self._bound:
            self._bound = False
            unbind = codec.make("unbind", sequence=self._seq.next_sequence())
            with contextlib.suppress(SmppError):
                await self._request(unbind, timeout=min(self.config.response_timeout, UNBIND_WAIT))
        await self._teardown()

    async def _request(
        self, pdu: Any, timeout_error: type[ResponseTimeout] = ResponseTimeout, timeout: float | None = None
    ) -> Any:
        """Send a request and wait for the response carrying its sequence number."""
        loop = asyncio.get_running_loop()
        seq = pdu.sequence
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending[seq] = fut
        limit = self.config.response_timeout if timeout is None else timeout
        timer = loop.call_later(limit, self._expire, seq, timeout_error, pdu.command, limit)
        try:
            self._send(pdu)
            await self._drain()
            return await fut
        finally:
            timer.cancel()
            self._pending.pop(seq, None)
            if fut.done() and not fut.cancelled():
                fut.exception()  # an outcome nobody awaited (e.g. send failed first) is not an error

    def _expire(self, seq: int, timeout_error: type[ResponseTimeout], command: str, limit: float) -> None:
        fut = self._pending.pop(seq, None)
        if fut is not None and not fut.done():
            fut.set_exception(timeout_error(f"no response to {command} #{seq} within {limit}s"))

    def _send(self, pdu: Any) -> None:
        """Queue one whole PDU on the transport.

        A single ``write`` per PDU from the event loop thread means PDUs can never
        interleave on the wire; back-pressure is applied separately by ``_drain``.
        """
        writer = self._writer
        if writer is None or writer.transport.is_closing():
            raise SmppConnectionError("not connected")
        writer.write(codec.encode(pdu))

    async def _drain(self) -> None:
        writer = self._writer
        if writer is None:
            raise SmppConnectionError("not connected")
        try:
            await writer.drain()
        except (ConnectionError, OSError) as exc:
            raise SmppConnectionError(f"write failed: {exc!r}") from exc

    def _reply(self, command: str, sequence: int, status: int = consts.SMPP_ESME_ROK) -> None:
        try:
            self._send(codec.make(command, sequence=sequence, status=status))
        except SmppConnectionError:
            log.warning("could not send %s #%d: connection gone", command, sequence)

    async def _read_loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reason: BaseException | None = None
        try:
            while True:
                try:
                    pdu = await codec.read_pdu(reader)
                except codec.DecodeError as exc:
                    log.warning("undecodable PDU from SMSC: %s", exc)
                    self._reply("generic_nack", exc.sequence, exc.nack_status)
                    continue
                if pdu is None:
                    break
                self._dispatch(pdu)
        except Exception as exc:  # framing, a reset, or a bug: this session cannot go on either way
            reason = exc
            log.warning("SMPP connection to %s:%s broken: %r", self.config.host, self.config.port, exc)
        finally:
            self._connection_lost(writer, reason)

    def _dispatch(self, pdu: Any) -> None:
        command = pdu.command
        if command.endswith("_resp") or command == "generic_nack":
            fut = self._pending.pop(pdu.sequence, None)
            if fut is not None and not fut.done():
                fut.set_result(pdu)
            else:
                log.debug("%s #%d matches no waiting request (late or unsolicited)", command, pdu.sequence)
        elif command == "deliver_sm":
            task = asyncio.create_task(self._handle_deliver(pdu))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        elif command == "enquire_link":
            self._reply("enquire_link_resp", pdu.sequence)
        elif command == "unbind":
            self._bound = False
            self._reply("unbind_resp", pdu.sequence)
            if self._writer is not None:
                self._writer.close()
        elif command == "alert_notification":
            log.info("alert_notification from SMSC ignored")
        else:
            self._reply("generic_nack", pdu.sequence, consts.SMPP_ESME_RINVCMDID)

    async def _handle_deliver(self, pdu: Any) -> None:
        status = consts.SMPP_ESME_ROK
        if self._on_deliver is not None:
            try:
                await self._on_deliver(deliver_from_pdu(pdu))
            except Exception:
                log.exception("on_deliver failed; asking the SMSC to redeliver")
                status = consts.SMPP_ESME_RX_T_APPN
        self._reply("deliver_sm_resp", pdu.sequence, status)

    async def _keepalive(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self._request(codec.make("enquire_link", sequence=self._seq.next_sequence()))
            except ResponseTimeout:
                log.warning("enquire_link unanswered; dropping the connection")
                if self._writer is not None:
                    self._writer.transport.abort()
                return
            except SmppConnectionError:
                return

    def _connection_lost(self, writer: asyncio.StreamWriter, reason: BaseException | None) -> None:
        if writer is not self._writer:
            return
        self._bound = False
        self._writer = None
        why = f"{reason!r}" if reason is not None else "closed"
        pending, self._pending = self._pending, {}
        for seq, fut in pending.items():
            if not fut.done():
                fut.set_exception(SmppConnectionError(f"connection lost ({why}) awaiting response #{seq}"))
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            self._keepalive_task = None
        writer.close()

    async def _teardown(self) -> None:
        """Close the socket and wait for the reader to notice, failing whatever still waits."""
        writer, task = self._writer, self._reader_task
        self._reader_task = None
        if writer is not None:
            writer.close()
        if task is not None:
            _, stuck = await asyncio.wait({task}, timeout=UNBIND_WAIT)
            for leftover in stuck:
                leftover.cancel()
        if writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=UNBIND_WAIT)
        if self._writer is writer and writer is not None:
            self._connection_lost(writer, None)


def deliver_from_pdu(pdu: Any) -> DeliverSm:
    """Flatten an smpplib deliver_sm into plain Python values."""
    ref, total, seq = pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum
    sar = (ref, total, seq) if None not in (ref, total, seq) else None
    return DeliverSm(
        source_addr=codec.as_str(pdu.source_addr),
        destination_addr=codec.as_str(pdu.destination_addr),
        esm_class=pdu.esm_class or 0,
        data_coding=pdu.data_coding or 0,
        short_message=pdu.short_message or b"",
        receipted_message_id=codec.opt_str(pdu.receipted_message_id),
        message_state=pdu.message_state,
        network_error_code=pdu.network_error_code or None,
        sar=sar,
        message_payload=pdu.message_payload or None,
    )
