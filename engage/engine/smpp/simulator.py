"""An SMSC that lives in-process, for tests, the demo and benchmarks.

It speaks enough SMPP 3.4 to exercise a real ESME end to end: binds with credential
checks, submit_sm with seeded random throttling/failures, delivery receipts routed
round-robin to the account's receiver binds (held until one binds, re-sent when the
ESME answers with an error or disconnects), and injected MO messages. It is built
for throughput: one timer task flushes everything that has come due every 10 ms, and
writes rely on transport buffering instead of per-PDU awaits.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import heapq
import itertools
import logging
import random
import signal
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from smpplib import consts

from engage.engine.smpp.codec import DecodeError, FramingError, SequenceSource, as_str, encode, make, read_pdu
from engage.engine.smpp.multipart import ESM_UDHI, split_udh
from engage.engine.smpp.receipts_text import format_receipt_text

__all__ = ["Received", "SmscSimulator", "main", "start_in_thread"]

log = logging.getLogger(__name__)

TICK = 0.01
STAT_NAMES = ("binds", "bind_failures", "submits", "accepted", "throttled", "failed", "receipts_sent",
              "receipts_acked", "receipts_nacked", "mo_sent", "mo_acked", "max_outstanding")
WRITE_HIGH_WATER = 256 * 1024
SIM_ID = "engage-sim"


@dataclass
class Received:
    message_id: str
    system_id: str
    source: str
    destination: str
    data_coding: int
    short_message: bytes
    esm_class: int
    concat: tuple[int, int, int] | None
    at: float


@dataclass
class _Outbound:
    """A deliver_sm owed to an account: a receipt or an MO, kept until some bind acks it."""

    system_id: str
    kind: str  # "receipt" | "mo"
    fields: dict[str, Any]
    attempts: int = 0


@dataclass(eq=False)
class _Session:
    writer: asyncio.StreamWriter
    system_id: str | None = None
    mode: str | None = None
    seq: SequenceSource = field(default_factory=SequenceSource)
    unacked: dict[int, _Outbound] = field(default_factory=dict)
    outstanding: int = 0
    max_outstanding: int = 0

    @property
    def closing(self) -> bool:
        return self.writer.transport.is_closing()

    def send(self, pdu: Any) -> None:
        if not self.closing:
            self.writer.write(encode(pdu))


class SmscSimulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        accounts: dict[str, str] | None = None,
        receipt_delay: float = 0.05,
        fail_rate: float = 0.0,
        throttle_rate: float = 0.0,
        undeliverable_rate: float = 0.0,
        seed: int | None = None,
        id_format: str = "hex",
        response_delay: float = 0.0,
        retry_delay: float = 0.2,
    ) -> None:
        if id_format not in ("hex", "decimal", "uuid"):
            raise ValueError(f"id_format must be hex, decimal or uuid, not {id_format!r}")
        self.host, self.port, self.id_format = host, port, id_format
        self.accounts = dict(accounts) if accounts is not None else {"engage": "secret"}
        self.receipt_delay, self.response_delay, self.retry_delay = receipt_delay, response_delay, retry_delay
        self.fail_rate, self.throttle_rate = fail_rate, throttle_rate
        self.undeliverable_rate = undeliverable_rate
        self.received: list[Received] = []
        self._rng = random.Random(seed)
        self._next_id = self._rng.getrandbits(32)
        self._counts: Counter[str] = Counter()
        self._by_sid: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._sessions: dict[_Session, asyncio.Task[Any]] = {}
        self._receivers: defaultdict[str, list[_Session]] = defaultdict(list)
        self._round_robin: Counter[str] = Counter()
        self._backlog: defaultdict[str, deque[_Outbound]] = defaultdict(deque)
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        tasks = list(self._sessions.values())
        for session in list(self._sessions):
            session.writer.transport.abort()
        if tasks:
            await asyncio.wait(tasks, timeout=2)

    def stop_thread(self) -> None:
        """Stop a simulator started with :func:`start_in_thread` and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)

    # -- test and demo hooks (callable from any thread) -----------------------------------

    def drop_connections(self) -> None:
        """Fault injection: abort every client socket at once, mid-whatever."""
        self._on_loop(lambda: [s.writer.transport.abort() for s in list(self._sessions)])

    def deliver_mo(
        self, source: str, destination: str, text: str | bytes, system_id: str | None = None
    ) -> None:
        """Queue a subscriber's message for the account's receiver binds (first account by default)."""
        if isinstance(text, bytes):
            body, coding = text, 0
        else:
            try:
                body, coding = text.encode("latin-1"), 0
            except UnicodeEncodeError:
                body, coding = text.encode("utf-16-be"), 8
        sid = system_id or next(iter(self.accounts))
        fields = {"source_addr_ton": 1, "source_addr_npi": 1, "source_addr": source, "dest_addr_ton": 5,
                  "destination_addr": destination, "esm_class": 0, "data_coding": coding,
                  "short_message": body}
        self._on_loop(self._dispatch, _Outbound(sid, "mo", fields))

    def stats(self) -> dict[str, Any]:
        """Counters; ``max_outstanding`` is the most unanswered submits one bind ever had."""
        return self._on_loop(lambda: {
            **{name: self._counts[name] for name in STAT_NAMES},
            "by_system_id": {sid: dict(counts) for sid, counts in self._by_sid.items()},
        })

    def _on_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = self._loop
        if loop is None or not loop.is_running():
            return fn(*args)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop or threading.current_thread() is self._thread:
            return fn(*args)
        result: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(fn(*args))
            except BaseException as exc:  # handed back to the calling thread
                result.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return result.result(timeout=10)

    # -- sessions --------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        self._sessions[session] = asyncio.current_task()  # type: ignore[assignment]
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    pdu = await read_pdu(reader)
                except DecodeError as exc:
                    session.send(make("generic_nack", sequence=exc.sequence, status=exc.nack_status))
                    continue
                if pdu is None or not self._handle(session, pdu):
                    break
                if writer.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                    await writer.drain()
        except (FramingError, ConnectionError, OSError) as exc:
            log.debug("session %s ended: %r", session.system_id, exc)
        finally:
            self._session_gone(session)

    def _session_gone(self, session: _Session) -> None:
        self._sessions.pop(session, None)
        if session.system_id and session in self._receivers[session.system_id]:
            self._receivers[session.system_id].remove(session)
        for item in session.unacked.values():
            self._dispatch(item)
        session.unacked.clear()
        session.writer.close()

    def _handle(self, session: _Session, pdu: Any) -> bool:
        """Act on one PDU; ``False`` ends the session."""
        command = pdu.command
        if command.startswith("bind_") and not command.endswith("_resp"):
            self._bind(session, pdu)
        elif command == "submit_sm":
            self._submit(session, pdu)
        elif command in ("deliver_sm_resp", "generic_nack"):
            self._delivery_answered(session, pdu)
        elif command == "enquire_link":
            session.send(make("enquire_link_resp", sequence=pdu.sequence))
        elif command == "unbind":
            session.send(make("unbind_resp", sequence=pdu.sequence))
            return False
        elif not command.endswith("_resp"):
            session.send(make("generic_nack", sequence=pdu.sequence, status=consts.SMPP_ESME_RINVCMDID))
        return True

    def _bind(self, session: _Session, pdu: Any) -> None:
        system_id, password = as_str(pdu.system_id), as_str(pdu.password)
        mode = pdu.command[len("bind_") :]
        if session.mode is not None:
            status = consts.SMPP_ESME_RALYBND
        elif system_id not in self.accounts:
            status = consts.SMPP_ESME_RINVSYSID
        elif self.accounts[system_id] != password:
            status = consts.SMPP_ESME_RINVPASWD
        else:
            status = consts.SMPP_ESME_ROK
        session.send(make(f"{pdu.command}_resp", sequence=pdu.sequence, status=status, system_id=SIM_ID))
        peer = session.writer.get_extra_info("peername")
        if status != consts.SMPP_ESME_ROK:
            self._counts["bind_failures"] += 1
            log.info("bind %s refused for %r from %s: status %#04x", mode, system_id, peer, status)
            return
        session.system_id, session.mode = system_id, mode
        self._counts["binds"] += 1
        self._by_sid[system_id]["binds"] += 1
        log.info("bind %s accepted for %r from %s", mode, system_id, peer)
        if mode != "transmitter":
            self._receivers[system_id].append(session)
            backlog = self._backlog.pop(system_id, deque())
            while backlog:
                self._dispatch(backlog.popleft())

    def _submit(self, session: _Session, pdu: Any) -> None:
        if session.mode not in ("transmitter", "transceiver") or session.system_id is None:
            session.send(make("submit_sm_resp", sequence=pdu.sequence, status=consts.SMPP_ESME_RINVBNDSTS))
            return
        sid = session.system_id
        counts = self._by_sid[sid]
        self._counts["submits"] += 1
        counts["submits"] += 1
        session.outstanding += 1
        if session.outstanding > session.max_outstanding:
            session.max_outstanding = session.outstanding
            counts["max_outstanding"] = max(counts["max_outstanding"], session.outstanding)
            self._counts["max_outstanding"] = max(self._counts["max_outstanding"], session.outstanding)
        draw = self._rng.random()
        if draw < self.throttle_rate:
            outcome, status, message_id = "throttled", consts.SMPP_ESME_RTHROTTLED, None
        elif draw < self.throttle_rate + self.fail_rate:
            outcome, status, message_id = "failed", consts.SMPP_ESME_RSUBMITFAIL, None
        else:
            outcome, status, message_id = "accepted", consts.SMPP_ESME_ROK, self._new_message_id()
        self._counts[outcome] += 1
        counts[outcome] += 1
        resp = make("submit_sm_resp", sequence=pdu.sequence, status=status, message_id=message_id)
        if self.response_delay > 0:
            self._later(self.response_delay, lambda: self._respond(session, resp))
        else:
            self._respond(session, resp)
        if message_id is None:
            return
        now = time.time()
        short_message = pdu.short_message or pdu.message_payload or b""
        esm_class, data_coding = pdu.esm_class or 0, pdu.data_coding or 0
        concat: tuple[int, int, int] | None = None
        body = short_message
        if esm_class & ESM_UDHI:
            parts = split_udh(short_message)
            if parts is not None:
                concat, body = parts[:3], parts[3]
        elif pdu.sar_msg_ref_num is not None and pdu.sar_total_segments and pdu.sar_segment_seqnum:
            concat = (pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum)
        received = Received(message_id, sid, as_str(pdu.source_addr), as_str(pdu.destination_addr),
                            data_coding, short_message, esm_class, concat, now)
        self.received.append(received)
        self._plan_receipt(received, body, (pdu.registered_delivery or 0) & 0x03)

    def _respond(self, session: _Session, resp: Any) -> None:
        session.outstanding -= 1
        session.send(resp)

    def _plan_receipt(self, received: Received, body: bytes, wanted: int) -> None:
        undeliverable = self._rng.random() < self.undeliverable_rate
        if not (wanted == 1 or (wanted == 2 and undeliverable)):
            return
        stat, err, state = ("UNDELIV", "001", 5) if undeliverable else ("DELIVRD", "000", 2)
        submitted = datetime.fromtimestamp(received.at)
        done = datetime.fromtimestamp(received.at + self.receipt_delay)
        preview = "" if received.data_coding not in (0, 1, 3) else "".join(
            ch if ch.isprintable() else "?" for ch in body[:20].decode("latin-1")
        )
        text = format_receipt_text(received.message_id, stat, err=err, submit_date=submitted,
                                   done_date=done, text=preview)
        fields: dict[str, Any] = {
            "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": received.destination,
            "dest_addr_ton": 5, "destination_addr": received.source, "esm_class": 0x04,
            "data_coding": 0, "short_message": text.encode("ascii", "replace"),
            "receipted_message_id": received.message_id, "message_state": state,
        }
        if undeliverable:
            fields["network_error_code"] = b"\x03\x00\x01"
        item = _Outbound(received.system_id, "receipt", fields)
        self._later(self.receipt_delay, lambda: self._dispatch(item))

    def _new_message_id(self) -> str:
        if self.id_format == "uuid":
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._next_id += 1
        return format(self._next_id, "x") if self.id_format == "hex" else str(self._next_id)

    # -- deliveries ------------------------------------------------------------------------

    def _dispatch(self, item: _Outbound) -> None:
        """Send to the next receiver bind of the account, or hold it until one binds."""
        receivers = [s for s in self._receivers.get(item.system_id, ()) if not s.closing]
        if not receivers:
            self._backlog[item.system_id].append(item)
            return
        session = receivers[self._round_robin[item.system_id] % len(receivers)]
        self._round_robin[item.system_id] += 1
        seq = session.seq.next_sequence()
        session.unacked[seq] = item
        item.attempts += 1
        session.send(make("deliver_sm", sequence=seq, **item.fields))
        self._counts["receipts_sent" if item.kind == "receipt" else "mo_sent"] += 1

    def _delivery_answered(self, session: _Session, pdu: Any) -> None:
        item = session.unacked.pop(pdu.sequence, None)
        if item is None:
            return
        if pdu.command == "deliver_sm_resp" and pdu.status == consts.SMPP_ESME_ROK:
            self._counts["receipts_acked" if item.kind == "receipt" else "mo_acked"] += 1
            return
        if item.kind == "receipt":
            self._counts["receipts_nacked"] += 1
        self._later(self.retry_delay, lambda: self._dispatch(item))

    # -- timer -----------------------------------------------------------------------------

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), action))

    async def _tick(self) -> None:
        """One timer for every delayed response, receipt and retry, however many there are."""
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            while self._due and self._due[0][0] <= now:
                _, _, action = heapq.heappop(self._due)
                try:
                    action()
                except Exception:
                    log.exception("simulator timer action failed")


def start_in_thread(**kwargs: Any) -> SmscSimulator:
    """Run a simulator on its own event loop in a daemon thread; returns once it is listening."""
    sim = SmscSimulator(**kwargs)
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[None] = concurrent.futures.Future()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(sim.start())
        except BaseException as exc:
            started.set_exception(exc)
            loop.close()
            return
        started.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    sim._thread = threading.Thread(target=run, name="smsc-simulator", daemon=True)
    sim._thread.start()
    started.result(timeout=10)
    return sim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="engage smsc-sim", description="Run the SMPP 3.4 SMSC simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--system-id", action="append", default=[], help="repeat to add accounts")
    parser.add_argument("--password", action="append", default=[], help="one per --system-id, or one for all")
    parser.add_argument("--receipt-delay", type=float, default=0.05)
    parser.add_argument("--response-delay", type=float, default=0.0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--throttle-rate", type=float, default=0.0)
    parser.add_argument("--undeliverable-rate", type=float, default=0.0)
    parser.add_argument("--id-format", choices=("hex", "decimal", "uuid"), default="hex")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    ids, passwords = args.system_id or ["engage"], args.password or ["secret"]
    if len(passwords) == 1:
        passwords = passwords * len(ids)
    if len(passwords) != len(ids):
        parser.error("give one --password per --system-id, or a single --password for all")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s smsc-sim %(message)s")
    sim = SmscSimulator(
        host=args.host, port=args.port, accounts=dict(zip(ids, passwords, strict=True)),
        receipt_delay=args.receipt_delay, response_delay=args.response_delay, fail_rate=args.fail_rate,
        throttle_rate=args.throttle_rate, undeliverable_rate=args.undeliverable_rate, seed=args.seed,
        id_format=args.id_format,
    )

    async def serve() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await sim.start()
        log.info("listening on %s:%d for %s", sim.host, sim.port, ", ".join(sim.accounts))
        await stopping.wait()
        await sim.stop()
        log.info("stopped: %s", {k: v for k, v in sim.stats().items() if k != "by_system_id"})

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
