"""An SMSC that lives in-process, so tests, the demo and benchmarks exercise a real ESME over TCP.

Receipts and MOs are owed to an account, not a socket: they wait until a receiver binds and
are re-sent when the ESME answers with an error or disconnects, so nothing is lost. For
throughput, one timer task flushes whatever has come due every 10 ms and writes rely on
transport buffering rather than per-PDU awaits.
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
from engage.engine.smpp.multipart import concat_of
from engage.engine.smpp.receipts_text import receipt_deliver_fields

__all__ = ["Received", "SmscSimulator", "main", "start_in_thread"]

log = logging.getLogger(__name__)

TICK = 0.01
STAT_NAMES = ("binds", "bind_failures", "enquire_links", "submits", "accepted", "throttled", "failed",
              "max_outstanding", "receipts_sent", "receipts_acked", "receipts_nacked",
              "mo_sent", "mo_acked", "mo_nacked")
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
    kind: str  # "receipts" | "mo": the prefix of its counters
    fields: dict[str, Any]


@dataclass(eq=False)
class _Session:
    writer: asyncio.StreamWriter
    system_id: str | None = None
    mode: str | None = None
    seq: SequenceSource = field(default_factory=SequenceSource)
    unacked: dict[int, _Outbound] = field(default_factory=dict)
    outstanding: int = 0

    def send(self, pdu: Any) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(pdu))


class SmscSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, accounts: dict[str, str] | None = None,
                 receipt_delay: float = 0.05, fail_rate: float = 0.0, throttle_rate: float = 0.0,
                 undeliverable_rate: float = 0.0, seed: int | None = None, id_format: str = "hex",
                 response_delay: float = 0.0, retry_delay: float = 0.2, deliver_window: int = 10) -> None:
        """``response_delay`` makes a client's window visible; ``deliver_window`` caps unacked deliver_sms."""
        if id_format not in ("hex", "decimal", "uuid"):
            raise ValueError(f"id_format must be hex, decimal or uuid, not {id_format!r}")
        self.host, self.port, self.id_format = host, port, id_format
        self.accounts = dict(accounts) if accounts is not None else {"engage": "secret"}
        self.receipt_delay, self.response_delay, self.retry_delay = receipt_delay, response_delay, retry_delay
        self.fail_rate, self.throttle_rate = fail_rate, throttle_rate
        self.undeliverable_rate, self.deliver_window = undeliverable_rate, deliver_window
        self.receipt_stats: dict[str, str] = {}  # message id -> stat of the receipt it was given
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
        self._loop_thread: threading.Thread | None = None
        self._thread: threading.Thread | None = None  # set by start_in_thread

    async def start(self) -> None:
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.current_thread()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._ticker, self._server = None, None
        if tasks := list(self._sessions.values()):
            self.drop_connections()
            await asyncio.wait(tasks, timeout=2)

    def stop_thread(self) -> None:
        """Stop a simulator started with :func:`start_in_thread` and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

    def drop_connections(self) -> None:
        """Fault injection: abort every client socket at once, mid-whatever."""
        self._on_loop(lambda: [s.writer.transport.abort() for s in list(self._sessions)])

    def deliver_mo(self, source: str, destination: str, text: str | bytes, system_id: str = "") -> None:
        """Queue a subscriber's message for the account's receiver binds (first account by default)."""
        ucs2 = isinstance(text, str) and not text.isascii()
        body = text if isinstance(text, bytes) else text.encode("utf-16-be" if ucs2 else "ascii")
        sid = system_id or next(iter(self.accounts))
        fields = {"source_addr_ton": 1, "source_addr_npi": 1, "source_addr": source, "dest_addr_ton": 5,
                  "destination_addr": destination, "esm_class": 0, "data_coding": 8 if ucs2 else 0,
                  "short_message": body}
        self._on_loop(self._dispatch, _Outbound(sid, "mo", fields))

    def stats(self) -> dict[str, Any]:
        """Counters; ``max_outstanding`` is the most unanswered submits one bind ever had."""
        return self._on_loop(lambda: {
            **{name: self._counts[name] for name in STAT_NAMES},
            "by_system_id": {sid: dict(counts) for sid, counts in self._by_sid.items()},
        })

    def _on_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` on the simulator's loop: state is only ever touched from that one thread."""
        loop = self._loop
        if loop is None or not loop.is_running() or threading.current_thread() is self._loop_thread:
            return fn(*args)

        async def call() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        self._sessions[session] = asyncio.current_task()  # type: ignore[assignment]
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
        except Exception:
            log.exception("session %s failed", session.system_id)
        finally:
            self._session_gone(session)

    def _session_gone(self, session: _Session) -> None:
        self._sessions.pop(session, None)
        if session.system_id and session in self._receivers[session.system_id]:
            self._receivers[session.system_id].remove(session)
        for item in session.unacked.values():
            self._dispatch(item)
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
            self._counts["enquire_links"] += 1
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
        status = (consts.SMPP_ESME_RALYBND if session.mode is not None
                  else consts.SMPP_ESME_RINVSYSID if system_id not in self.accounts
                  else consts.SMPP_ESME_RINVPASWD if self.accounts[system_id] != password
                  else consts.SMPP_ESME_ROK)
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
        session.outstanding += 1
        for tally in (counts, self._counts):
            tally["submits"] += 1
            tally["max_outstanding"] = max(tally["max_outstanding"], session.outstanding)
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
        short_message = pdu.short_message or pdu.message_payload or b""
        esm_class, data_coding = pdu.esm_class or 0, pdu.data_coding or 0
        sar = (pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum)
        concat, body = concat_of(esm_class, short_message, None if None in sar else sar)
        received = Received(message_id, sid, as_str(pdu.source_addr), as_str(pdu.destination_addr),
                            data_coding, short_message, esm_class, concat, time.time())
        self.received.append(received)
        self._plan_receipt(received, body, (pdu.registered_delivery or 0) & 0x03)

    def _respond(self, session: _Session, resp: Any) -> None:
        session.outstanding -= 1
        session.send(resp)

    def _plan_receipt(self, received: Received, body: bytes, wanted: int) -> None:
        undeliverable = self._rng.random() < self.undeliverable_rate
        if not (wanted == 1 or (wanted == 2 and undeliverable)):
            return
        self.receipt_stats[received.message_id] = "UNDELIV" if undeliverable else "DELIVRD"
        text = body[:20].decode("latin-1") if received.data_coding in (0, 1, 3) else ""
        preview = "".join(ch if ch.isprintable() else "?" for ch in text)
        fields = receipt_deliver_fields(
            received.message_id, handset=received.destination, sender=received.source,
            stat="UNDELIV" if undeliverable else "DELIVRD", err="001" if undeliverable else "000",
            submit_date=datetime.fromtimestamp(received.at),
            done_date=datetime.fromtimestamp(received.at + self.receipt_delay), text=preview)
        item = _Outbound(received.system_id, "receipts", fields)
        self._later(self.receipt_delay, lambda: self._dispatch(item))

    def _new_message_id(self) -> str:
        if self.id_format == "uuid":
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._next_id += 1
        return format(self._next_id, "x") if self.id_format == "hex" else str(self._next_id)

    def _dispatch(self, item: _Outbound) -> None:
        """Send to the account's next receiver bind with room in its window, or hold it until one has."""
        receivers = [s for s in self._receivers.get(item.system_id, ())
                     if not s.writer.is_closing() and len(s.unacked) < self.deliver_window]
        if not receivers:
            self._backlog[item.system_id].append(item)
            return
        session = receivers[self._round_robin[item.system_id] % len(receivers)]
        self._round_robin[item.system_id] += 1
        seq = session.seq.next_sequence()
        session.unacked[seq] = item
        session.send(make("deliver_sm", sequence=seq, **item.fields))
        self._counts[f"{item.kind}_sent"] += 1

    def _delivery_answered(self, session: _Session, pdu: Any) -> None:
        item = session.unacked.pop(pdu.sequence, None)
        if item is None:
            return
        acked = pdu.command == "deliver_sm_resp" and pdu.status == consts.SMPP_ESME_ROK
        self._counts[f"{item.kind}_{'acked' if acked else 'nacked'}"] += 1
        if not acked:
            self._later(self.retry_delay, lambda: self._dispatch(item))
        if self._backlog.get(item.system_id):  # a window slot just opened
            self._dispatch(self._backlog[item.system_id].popleft())

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
            return
        started.set_result(None)
        loop.run_forever()

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
    tunables = {"receipt_delay": 0.05, "response_delay": 0.0, "fail_rate": 0.0, "throttle_rate": 0.0,
                "undeliverable_rate": 0.0}
    for name, default in tunables.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=default)
    parser.add_argument("--id-format", choices=("hex", "decimal", "uuid"), default="hex")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    ids, passwords = args.system_id or ["engage"], args.password or ["secret"]
    passwords = passwords * len(ids) if len(passwords) == 1 else passwords
    if len(passwords) != len(ids):
        parser.error("give one --password per --system-id, or a single --password for all")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s smsc-sim %(message)s")
    sim = SmscSimulator(host=args.host, port=args.port, accounts=dict(zip(ids, passwords, strict=True)),
                        seed=args.seed, id_format=args.id_format, **{k: getattr(args, k) for k in tunables})

    async def serve() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await sim.start()
        log.info("listening on %s:%d for %s", sim.host, sim.port, ", ".join(sim.accounts))
        await stopping.wait()
        await sim.stop()

    asyncio.run(serve())
    return 0
