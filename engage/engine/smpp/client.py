"""Asyncio SMPP 3.4 ESME: one bind, a bounded window of submits, receipts handed to the caller.

One TCP connection is one bind. Reconnecting, rate limiting and routing are the
caller's business; this class only guarantees that every submit gets exactly one
outcome (a response, a timeout, or a connection error) and that a deliver_sm is
acknowledged only after the caller has taken responsibility for it.

The submit path is the hot one: a submit_sm is laid out by hand (:mod:`fastpdu`), joins
whatever else is being sent this loop turn in one write (:mod:`wire`), and its response
timeout is checked by one sweep per bind instead of a timer per submit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from smpplib import consts

from engage.engine.smpp import codec, fastpdu
from engage.engine.smpp.client_types import (
    BindError,
    DeliverSm,
    OnDeliver,
    OnDeliveries,
    ResponseTimeout,
    SmppConfig,
    SmppConnectionError,
    SmppError,
    SubmitResult,
    SubmitTimeout,
    deliver_from_pdu,
)
from engage.engine.smpp.wire import PduStream

__all__ = ["BindError", "DeliverSm", "EsmeClient", "OnDeliver", "OnDeliveries", "ResponseTimeout", "SmppConfig",
           "SmppConnectionError", "SmppError", "SubmitResult", "SubmitTimeout", "deliver_from_pdu"]

log = logging.getLogger(__name__)

UNBIND_WAIT = 2.0  # seconds; an SMSC that does not answer unbind quickly is not worth waiting for
_ALERT_NOTIFICATION = 0x00000102


class EsmeClient:
    def __init__(self, config: SmppConfig, on_deliver: OnDeliver | None = None, *,
                 on_deliveries: OnDeliveries | None = None) -> None:
        """``on_deliver`` is awaited once per deliver_sm. ``on_deliveries``, given instead, is awaited
        once for all the deliver_sm that arrived together and returns one command_status per
        delivery: at receipt rates, one hand-over per batch instead of one per message."""
        self.config = config
        self.smsc_system_id: str | None = None
        self._on_deliver = on_deliver
        self._on_deliveries = on_deliveries
        self._inbox: list[Any] = []  # deliver_sm received this loop turn, handled together after it
        self._window = asyncio.Semaphore(config.window)
        self._connecting = asyncio.Lock()
        self._seq = codec.SequenceSource()
        self._encoder = fastpdu.SubmitEncoder(config.service_type, config.source_ton, config.source_npi,
                                              config.dest_ton, config.dest_npi)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._deadlines: dict[int, float] = {}  # submits only, in send order: that is deadline order
        self._deliveries: set[asyncio.Task[None]] = set()
        self._stream: PduStream | None = None
        self._closed: asyncio.Future[None] | None = None  # resolved when the current connection ends
        self._tasks: list[asyncio.Task[None]] = []  # keepalive, timeout sweep: per session
        self._bound = False
        self._in_flight = 0
        self._load = 0  # submits waiting for a window slot or for their response

    @property
    def bound(self) -> bool:
        return self._bound

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def load(self) -> int:
        """Submits on this bind: in flight plus those waiting for a window slot."""
        return self._load

    async def wait_unbound(self) -> None:
        """Return once the current session has ended (at once if there is none)."""
        if self._bound and self._closed is not None:
            await asyncio.shield(self._closed)

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
        loop = asyncio.get_running_loop()
        closed: asyncio.Future[None] = loop.create_future()

        def make_stream() -> PduStream:
            stream = PduStream(self._dispatch, self._bad_pdu, lambda why: self._connection_lost(stream, closed, why))
            return stream

        try:
            _, stream = await asyncio.wait_for(loop.create_connection(make_stream, cfg.host, cfg.port),
                                               timeout=cfg.response_timeout)
        except (OSError, TimeoutError) as exc:
            raise SmppConnectionError(f"cannot connect to {cfg.host}:{cfg.port}: {exc!r}") from exc
        self._stream, self._closed = stream, closed
        bind = codec.make(f"bind_{cfg.bind_mode}", sequence=self._seq.next_sequence(),
                          system_id=cfg.system_id, password=cfg.password, system_type=cfg.system_type)
        try:
            resp = await self._request(codec.encode(bind), bind.sequence, bind.command)
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
        self._tasks = [asyncio.create_task(self._expire_submits(min(0.5, cfg.response_timeout / 4)))]
        if cfg.enquire_link_interval > 0:
            self._tasks.append(asyncio.create_task(self._keepalive(cfg.enquire_link_interval)))

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
        source_ton: int | None = None,
        source_npi: int | None = None,
    ) -> SubmitResult:
        """Send one submit_sm once a window slot is free; an SMPP error status is returned, not raised.

        ``tlvs`` use smpplib's names (``sar_msg_ref_num``, ``message_payload``, ...); string-typed
        TLVs take ``str``, octet ones ``bytes``. ``source_ton``/``source_npi`` override the
        config's for this submit. Addresses that are not ASCII raise ``UnicodeEncodeError``.
        """
        if len(short_message) > 254:
            raise ValueError(f"short_message is {len(short_message)} octets; use the message_payload TLV")
        extra = b""
        if tlvs:
            unknown = set(tlvs) - codec.SUBMIT_SM_TLVS
            if unknown:
                raise ValueError(f"unknown submit_sm TLVs: {sorted(unknown)}")
            extra = fastpdu.encode_tlvs(tlvs)
        return await self.submit_encoded(source, destination, short_message, data_coding, esm_class,
                                         registered_delivery, extra, source_ton, source_npi)

    async def submit_encoded(self, source: str, destination: str, short_message: bytes, data_coding: int,
                             esm_class: int, registered_delivery: int, tlvs: bytes = b"",
                             source_ton: int | None = None, source_npi: int | None = None,
                             service_type: str | None = None) -> SubmitResult:
        """:meth:`submit` for a caller whose parts are known to be well formed (the provider, whose
        parts come from :mod:`longsms`): ``tlvs`` already encoded, no checks, one coroutine less
        on the path every message part takes. ``service_type`` overrides the bind's (USSD answers)."""
        if self.config.bind_mode == "receiver":
            raise SmppError("a receiver bind cannot submit")
        self._load += 1
        try:
            async with self._window:
                stream = self._stream
                if not self._bound or stream is None:
                    raise SmppConnectionError("not bound")
                seq = self._seq.next_sequence()
                data = self._encoder.encode(seq, source, destination, short_message, data_coding, esm_class,
                                            registered_delivery, tlvs, source_ton, source_npi, service_type)
                if not stream.send(data):
                    raise SmppConnectionError("not connected")
                fut = stream.loop.create_future()
                self._pending[seq] = fut
                self._deadlines[seq] = stream.loop.time() + self.config.response_timeout
                self._in_flight += 1
                try:
                    if stream.write_blocked:
                        await stream.drain()
                    resp = await fut
                finally:
                    self._in_flight -= 1
                    self._pending.pop(seq, None)
                    self._deadlines.pop(seq, None)
        finally:
            self._load -= 1
        if resp.command_id == fastpdu.GENERIC_NACK:
            return SubmitResult(status=resp.status or consts.SMPP_ESME_RSYSERR, message_id=None)
        message_id = resp.message_id
        return SubmitResult(status=resp.status, message_id=message_id.decode("latin-1") if message_id else None)

    async def close(self) -> None:
        """Let running deliver handlers finish, unbind politely, drop the socket. Safe to repeat."""
        if self._stream is None:
            return
        if self._deliveries:
            _, late = await asyncio.wait(set(self._deliveries), timeout=self.config.response_timeout)
            for task in late:
                task.cancel()
        if self._bound:
            self._bound = False
            seq = self._seq.next_sequence()
            with contextlib.suppress(SmppError):
                await self._request(fastpdu.header_only(fastpdu.UNBIND, 0, seq), seq, "unbind",
                                    timeout=min(self.config.response_timeout, UNBIND_WAIT))
        await self._teardown()

    async def _request(self, data: bytes, seq: int, command: str, timeout: float | None = None) -> Any:
        """Send a (non-submit) request and wait for the response carrying its sequence number."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending[seq] = fut
        limit = self.config.response_timeout if timeout is None else timeout
        timer = loop.call_later(limit, self._expire, seq, command, limit)
        try:
            stream = self._stream
            if stream is None or not stream.send(data):
                raise SmppConnectionError("not connected")
            return await fut
        finally:
            timer.cancel()
            self._pending.pop(seq, None)

    def _expire(self, seq: int, command: str, limit: float) -> None:
        fut = self._pending.pop(seq, None)
        if fut is not None and not fut.done():
            fut.set_exception(ResponseTimeout(f"no response to {command} #{seq} within {limit}s"))

    async def _expire_submits(self, interval: float) -> None:
        """One sweep for every submit's deadline: deadlines were set in send order, so the sweep
        stops at the first one still in the future."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            expired = []
            for seq, deadline in self._deadlines.items():
                if deadline > now:
                    break
                expired.append(seq)
            for seq in expired:
                del self._deadlines[seq]
                fut = self._pending.pop(seq, None)
                if fut is not None and not fut.done():
                    fut.set_exception(SubmitTimeout(
                        f"no response to submit_sm #{seq} within {self.config.response_timeout}s"))

    def _reply(self, command_id: int, sequence: int, status: int = consts.SMPP_ESME_ROK) -> None:
        stream = self._stream
        if stream is None or not stream.send(fastpdu.header_only(command_id, status, sequence)):
            log.warning("could not answer #%d (%s): connection gone", sequence,
                        fastpdu.COMMAND_NAMES.get(command_id, hex(command_id)))

    def _bad_pdu(self, exc: codec.DecodeError) -> None:
        log.warning("undecodable PDU from SMSC: %s", exc)
        self._reply(fastpdu.GENERIC_NACK, exc.sequence, exc.nack_status)

    def _dispatch(self, pdu: Any) -> None:
        command_id = pdu.command_id
        if command_id & 0x80000000:  # a response, or generic_nack
            fut = self._pending.pop(pdu.sequence, None)
            if fut is not None and not fut.done():
                fut.set_result(pdu)
            elif command_id == fastpdu.GENERIC_NACK:
                log.warning("generic_nack %#x #%d matches no waiting request", pdu.status, pdu.sequence)
            else:
                log.debug("%s #%d matches no waiting request (late or unsolicited)", pdu.command, pdu.sequence)
        elif command_id == fastpdu.DELIVER_SM:
            self._inbox.append(pdu)
            if len(self._inbox) == 1 and self._stream is not None:
                self._stream.loop.call_soon(self._take_inbox, self._stream)
        elif command_id == fastpdu.ENQUIRE_LINK:
            self._reply(fastpdu.ENQUIRE_LINK_RESP, pdu.sequence)
        elif command_id == fastpdu.UNBIND:
            self._bound = False
            self._reply(fastpdu.UNBIND_RESP, pdu.sequence)
            if self._stream is not None:
                self._stream.close()
        elif command_id == _ALERT_NOTIFICATION:
            log.info("alert_notification from SMSC ignored")
        else:
            self._reply(fastpdu.GENERIC_NACK, pdu.sequence, consts.SMPP_ESME_RINVCMDID)

    def _take_inbox(self, stream: PduStream) -> None:
        pdus, self._inbox = self._inbox, []
        if not pdus:
            return
        task = asyncio.create_task(self._handle_deliveries(stream, pdus))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _handle_deliveries(self, stream: PduStream, pdus: list[Any]) -> None:
        """Hand the deliveries over, then answer each on the connection it came by: the answer
        to a deliver_sm is only ever sent once the caller has taken responsibility for it."""
        try:
            statuses = await self._deliver(pdus)
            if len(statuses) != len(pdus):
                raise RuntimeError(f"on_deliveries gave {len(statuses)} statuses for {len(pdus)} deliveries")
        except Exception:
            log.exception("on_deliver failed; asking the SMSC to redeliver")
            statuses = [consts.SMPP_ESME_RX_T_APPN] * len(pdus)
        for pdu, status in zip(pdus, statuses, strict=True):
            if not stream.send(fastpdu.sm_resp(fastpdu.DELIVER_SM_RESP, pdu.sequence, status, None)):
                log.warning("could not send deliver_sm_resp #%d and %d more: connection gone; the SMSC will"
                            " redeliver", pdu.sequence, len(pdus) - 1)
                return

    async def _deliver(self, pdus: list[Any]) -> list[int]:
        if self._on_deliveries is not None:
            return await self._on_deliveries([deliver_from_pdu(pdu) for pdu in pdus])
        if self._on_deliver is None:
            return [consts.SMPP_ESME_ROK] * len(pdus)
        if len(pdus) == 1:
            return [await self._deliver_one(pdus[0])]
        return list(await asyncio.gather(*(self._deliver_one(pdu) for pdu in pdus)))

    async def _deliver_one(self, pdu: Any) -> int:
        try:
            await self._on_deliver(deliver_from_pdu(pdu))  # type: ignore[misc]
        except Exception:
            log.exception("on_deliver failed; asking the SMSC to redeliver")
            return consts.SMPP_ESME_RX_T_APPN
        return consts.SMPP_ESME_ROK

    async def _keepalive(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            seq = self._seq.next_sequence()
            try:
                await self._request(fastpdu.header_only(fastpdu.ENQUIRE_LINK, 0, seq), seq, "enquire_link")
            except ResponseTimeout:
                log.warning("enquire_link unanswered; dropping the connection to %s:%s",
                            self.config.host, self.config.port)
                if self._stream is not None:
                    self._stream.abort(SmppConnectionError("enquire_link unanswered"))
                return
            except SmppConnectionError:
                return

    def _connection_lost(self, stream: PduStream, closed: asyncio.Future[None], reason: BaseException | None) -> None:
        if not closed.done():
            closed.set_result(None)
        if stream is not self._stream:
            return
        self._bound = False
        if reason is not None:
            log.warning("SMPP connection to %s:%s broken: %r", self.config.host, self.config.port, reason)
        why = f"{reason!r}" if reason is not None else "closed"
        pending, self._pending = self._pending, {}
        self._deadlines = {}
        self._inbox = []  # unanswered: the SMSC sends them again on the next bind
        for seq, fut in pending.items():
            if not fut.done():
                fut.set_exception(SmppConnectionError(f"connection lost ({why}) awaiting response #{seq}"))
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def _teardown(self) -> None:
        """Close the socket and wait for the connection to be gone, failing whatever still waits."""
        stream, closed = self._stream, self._closed
        if stream is None:
            return
        stream.close()
        if closed is not None and not closed.done():
            _, stuck = await asyncio.wait({closed}, timeout=UNBIND_WAIT)
            if stuck:
                stream.abort()
                await asyncio.wait({closed}, timeout=UNBIND_WAIT)
        if self._stream is stream:
            self._connection_lost(stream, closed or asyncio.get_running_loop().create_future(), None)
            self._stream = None
