"""An SMSC that lives in-process, so tests, the demo and benchmarks exercise a real ESME over TCP.

Receipts and MOs are owed to an account, not a socket: they wait until a receiver binds and
are re-sent when the ESME answers with an error or disconnects, so nothing is lost. For
throughput, PDUs are decoded and encoded by hand (:mod:`fastpdu`), one timer task flushes
whatever has come due every 10 ms, and everything a session sends in one loop turn leaves
in one write (:mod:`wire`). ``sim.ussd`` dials USSD codes as a phone would (:mod:`smsc_ussd`).

An account's TPS, as an SMSC enforces it: ``tps`` submits per one-second window (its own
clock's seconds) across every bind of a system-id; beyond, the answer is ``throttle_answer``,
ESME_RTHROTTLED (0x58) or ESME_RMSGQFUL (0x14), as SMSCs differ on which they send.

Fault injection, for the tests that prove nothing is lost: ``throttle_rate`` (0x58),
``msgqful_rate`` (0x14), ``fail_rate`` (0x45 submit failed), ``reject_rate`` (``reject_status``,
by default 0x0B invalid destination), ``undeliverable_rate`` (UNDELIV receipts),
:meth:`SmscSimulator.drop_connections`, ``response_delay``. ``receipt_id_base`` makes the
receipts quote ids the way some SMSCs do: in decimal when the submit_sm_resp said hex, or in
upper case. Broken SMSCs seen in the field: ``nul_receipt_every`` makes every Nth receipt quote its
id with a NUL byte inside (``id:AB\\0CD``, text only); ``id_cycle`` hands out the same message ids
again after that many, as an SMSC whose counter starts over after a restart.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import operator
import random
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smpplib import consts

from engage.engine.asyncloop import stop_served
from engage.engine.smpp import fastpdu
from engage.engine.smpp.codec import DecodeError, SequenceSource, as_str, encode, make
from engage.engine.smpp.receipts_text import receipt_stamp
from engage.engine.smpp.wire import PduStream
from engage.simulators.smsc_log import Received, Row, SimMessage, SubmitLog, parts, reassemble
from engage.simulators.smsc_ussd import UssdSessions

__all__ = ["Received", "SimMessage", "SmscSimulator", "start_in_thread"]

log = logging.getLogger(__name__)

TICK = 0.01
STAT_NAMES = ("binds", "bind_failures", "enquire_links", "submits", "accepted", "throttled", "queue_full",
              "failed", "rejected", "max_outstanding", "receipts_sent", "receipts_acked", "receipts_nacked",
              "mo_sent", "mo_acked", "mo_nacked")
SIM_ID = "engage-sim"
ID_BASES = ("same", "decimal", "hex_upper")
THROTTLE_ANSWERS = {"throttled": ("throttled", consts.SMPP_ESME_RTHROTTLED),
                    "msgqful": ("queue_full", consts.SMPP_ESME_RMSGQFUL)}
_PRINTABLE = bytes(c if 32 <= c < 127 else ord("?") for c in range(256))
_PACK_HEADER = fastpdu.HEADER.pack
_RECEIPTED_ID_TAG = fastpdu.TLVS["receipted_message_id"][0].to_bytes(2, "big")
_MESSAGE_STATE_TAG = fastpdu.TLVS["message_state"][0].to_bytes(2, "big")
_NETWORK_ERROR_TAG = fastpdu.TLVS["network_error_code"][0].to_bytes(2, "big")
# The TLVs after receipted_message_id, by stat: message_state (2 or 5); an UNDELIV receipt (err:001)
# adds network_error_code (GSM, error 1).
_STATE_TLVS = {"DELIVRD": _MESSAGE_STATE_TAG + b"\x00\x01\x02",
               "UNDELIV": _MESSAGE_STATE_TAG + b"\x00\x01\x05" + _NETWORK_ERROR_TAG + b"\x00\x03\x03\x00\x01"}
_RECEIPT_COUNTERS = ("receipts_sent", "receipts_acked", "receipts_nacked")
_MO_COUNTERS = ("mo_sent", "mo_acked", "mo_nacked")
_DUE_ORDER = operator.itemgetter(0, 1)  # a timer entry's (due time, scheduling order)

# A deliver_sm owed to an account, a receipt or an MO, kept until some bind acks it:
# (system_id, its (sent, acked, nacked) counter names, its body). The body (all but the header) is
# encoded once, so a resend after a nack or a lost bind costs one pack. A plain tuple, which the
# garbage collector stops tracking: thousands wait at any moment of a bulk run.
_Outbound = tuple[str, tuple[str, str, str], bytes]


@dataclass(eq=False)
class _Session:
    stream: PduStream
    system_id: str | None = None
    mode: str | None = None
    seq: SequenceSource = field(default_factory=SequenceSource)
    unacked: dict[int, _Outbound] = field(default_factory=dict)
    outstanding: int = 0
    tally: Counter[str] = field(default_factory=Counter)  # its account's counters, once bound


class SmscSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, accounts: dict[str, str] | None = None,
                 receipt_delay: float = 0.05, fail_rate: float = 0.0, throttle_rate: float = 0.0,
                 undeliverable_rate: float = 0.0, seed: int | None = None, id_format: str = "hex",
                 response_delay: float = 0.0, retry_delay: float = 0.2, deliver_window: int = 10,
                 msgqful_rate: float = 0.0, reject_rate: float = 0.0,
                 reject_status: int = consts.SMPP_ESME_RINVDSTADR, receipt_id_base: str = "same",
                 receipt_tlvs: bool = True, tps: int = 0, throttle_answer: str = "throttled",
                 nul_receipt_every: int = 0, id_cycle: int = 0) -> None:
        """``response_delay`` makes a client's window visible; ``deliver_window`` caps unacked deliver_sms;
        ``receipt_tlvs=False`` sends receipts as text only, as older SMSCs do; ``tps`` (0: none)
        refuses submits beyond that many per second and system-id with ``throttle_answer``."""
        if id_format not in ("hex", "decimal", "uuid"):
            raise ValueError(f"id_format must be hex, decimal or uuid, not {id_format!r}")
        if receipt_id_base not in ID_BASES:
            raise ValueError(f"receipt_id_base must be one of {ID_BASES}, not {receipt_id_base!r}")
        if receipt_id_base == "decimal" and id_format == "uuid":
            raise ValueError("receipt_id_base='decimal' needs hex or decimal message ids, not uuid")
        if throttle_answer not in THROTTLE_ANSWERS:
            raise ValueError(f"throttle_answer must be one of {', '.join(THROTTLE_ANSWERS)}, not {throttle_answer!r}")
        if isinstance(tps, bool) or not isinstance(tps, int) or tps < 0:
            raise ValueError(f"tps must be a whole number of submits per second (0: no limit), not {tps!r}")
        rates = {"fail_rate": fail_rate, "throttle_rate": throttle_rate, "msgqful_rate": msgqful_rate,
                 "reject_rate": reject_rate, "undeliverable_rate": undeliverable_rate}
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate!r}")
        self.host, self.port, self.id_format = host, port, id_format
        self.accounts = dict(accounts) if accounts is not None else {"engage": "secret"}
        # USSD sessions it originates (smsc_ussd.py): their deliver_sm go out as MOs do
        self.ussd = UssdSessions(list(self.accounts), lambda sid, body: self._on_loop(
            self._dispatch, (sid, _MO_COUNTERS, body)))
        self.receipt_delay, self.response_delay, self.retry_delay = receipt_delay, response_delay, retry_delay
        self.fail_rate, self.throttle_rate, self.msgqful_rate = fail_rate, throttle_rate, msgqful_rate
        self.reject_rate, self.reject_status = reject_rate, reject_status
        self.undeliverable_rate, self.deliver_window = undeliverable_rate, deliver_window
        self.receipt_id_base, self.receipt_tlvs = receipt_id_base, receipt_tlvs
        self.tps, self._over_tps_answer = tps, THROTTLE_ANSWERS[throttle_answer]
        self._tps_windows: dict[str, list[int]] = {}  # system-id -> [its current second, submits taken in it]
        self.nul_receipt_every, self.id_cycle, self._receipts_planned = nul_receipt_every, id_cycle, 0
        # Refusals by cumulative probability: one random draw per submit picks at most one.
        bands = [(throttle_rate, "throttled", consts.SMPP_ESME_RTHROTTLED),
                 (msgqful_rate, "queue_full", consts.SMPP_ESME_RMSGQFUL),
                 (fail_rate, "failed", consts.SMPP_ESME_RSUBMITFAIL), (reject_rate, "rejected", reject_status)]
        edges = itertools.accumulate(rate for rate, _, _ in bands)
        self._refusals = [(edge, name, status) for edge, (_, name, status) in zip(edges, bands, strict=True)]
        self._refusal_edge = sum(rate for rate, _, _ in bands)
        self._log = SubmitLog()
        self._receipt_middles: dict[tuple[int, int, str], bytes] = {}
        self._rng = random.Random(seed)
        self._next_id = self._first_id = self._rng.getrandbits(32)
        self._counts: Counter[str] = Counter()
        self._by_sid: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._sessions: set[_Session] = set()
        self._receivers: defaultdict[str, list[_Session]] = defaultdict(list)
        self._round_robin: Counter[str] = Counter()
        self._backlog: defaultdict[str, deque[_Outbound]] = defaultdict(deque)
        # Timers by delay: each delay is constant, so its queue is in due order without a heap.
        self._due: dict[float, deque[tuple[float, int, Callable[..., None], tuple[Any, ...]]]] = {}
        self._order = itertools.count()
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._thread: threading.Thread | None = None  # set by start_in_thread

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.current_thread()
        self._server = await self._loop.create_server(self._new_session, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        server, self._ticker, self._server = self._server, None, None
        if server is not None:
            server.close()
        deadline = time.monotonic() + 2
        self.drop_connections()
        while self._sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if server is not None:
            await asyncio.wait_for(server.wait_closed(), timeout=2)

    def stop_thread(self) -> None:
        """Stop a simulator started with :func:`start_in_thread` and join its thread."""
        stop_served(self)

    # -- what tests ask --------------------------------------------------------------------------
    def drop_connections(self) -> None:
        """Fault injection: abort every client socket at once, mid-whatever."""
        self._on_loop(lambda: [s.stream.abort() for s in list(self._sessions)])

    def deliver_mo(self, source: str, destination: str, text: str | bytes, system_id: str = "") -> None:
        """Queue a subscriber's message for the account's receiver binds (first account by default)."""
        self.deliver_mos([(source, destination, text)], system_id)

    def deliver_mos(self, messages: list[tuple[str, str, str | bytes]], system_id: str = "") -> None:
        """deliver_mo for many (source, destination, text), in one hop to the simulator's loop."""
        sid = system_id or next(iter(self.accounts))
        items = []
        for source, destination, text in messages:
            ucs2 = isinstance(text, str) and not text.isascii()
            body = text if isinstance(text, bytes) else text.encode("utf-16-be" if ucs2 else "ascii")
            fields = {"source_addr_ton": 1, "source_addr_npi": 1, "source_addr": source, "dest_addr_ton": 5,
                      "destination_addr": destination, "esm_class": 0, "data_coding": 8 if ucs2 else 0,
                      "short_message": body}
            items.append((sid, _MO_COUNTERS, fastpdu.encode_sm(fastpdu.DELIVER_SM, 0, fields)[fastpdu.HEADER.size:]))
        self._on_loop(lambda: [self._dispatch(item) for item in items])

    @property
    def received(self) -> list[Received]:
        """Every accepted part, in arrival order (a snapshot: safe to read from any thread)."""
        return parts(self._on_loop(lambda: list(self._log.rows)))

    @property
    def receipt_stats(self) -> dict[str, str]:
        """message id (as the submit_sm_resp gave it) -> stat of its receipt (a snapshot)."""
        return self._on_loop(lambda: dict(self._log.receipt_stats))

    def messages(self) -> list[SimMessage]:
        """Whole messages reassembled from their parts (UDH 8/16-bit, SAR, message_payload)."""
        return reassemble(self.received)

    def stats(self) -> dict[str, Any]:
        """Counters. ``max_outstanding`` is the most unanswered submits one bind ever had;
        ``duplicates`` maps each message id whose (destination, text, part position) was accepted
        more than once to how many times it was; ``duplicate_submits`` is the number of extra copies."""
        def read() -> dict[str, Any]:
            return {**{name: self._counts[name] for name in STAT_NAMES},
                    "by_system_id": {sid: dict(counts) for sid, counts in self._by_sid.items()},
                    "duplicates": self._log.duplicates(), "duplicate_submits": self._log.duplicate_submits()}
        return self._on_loop(read)

    def acceptance(self) -> dict[str, Any]:
        """When submits were accepted: see :meth:`SubmitLog.acceptance`."""
        return self._on_loop(self._log.acceptance)

    def counts(self) -> dict[str, int]:
        """The counters alone: cheap enough to read every half second during a million-message run."""
        return self._on_loop(lambda: {name: self._counts[name] for name in STAT_NAMES})

    def _on_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` on the simulator's loop: state is only ever touched from that one thread."""
        loop = self._loop
        if loop is None or not loop.is_running() or threading.current_thread() is self._loop_thread:
            return fn(*args)

        async def call() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=10)

    # -- sessions --------------------------------------------------------------------------------
    def _new_session(self) -> PduStream:
        holder: list[_Session] = []
        stream = PduStream(lambda pdu: self._handle(holder[0], pdu), lambda exc: self._bad_pdu(holder[0], exc),
                           lambda why: self._session_gone(holder[0], why), pause_reading_when_blocked=True)
        holder.append(_Session(stream))
        self._sessions.add(holder[0])
        return stream

    def _bad_pdu(self, session: _Session, exc: DecodeError) -> None:
        session.stream.send(fastpdu.header_only(fastpdu.GENERIC_NACK, exc.nack_status, exc.sequence))

    def _session_gone(self, session: _Session, why: BaseException | None) -> None:
        log.debug("session %s ended: %r", session.system_id, why)
        self._sessions.discard(session)
        if session.system_id and session in self._receivers[session.system_id]:
            self._receivers[session.system_id].remove(session)
        unacked, session.unacked = session.unacked, {}
        for item in unacked.values():
            self._dispatch(item)

    def _handle(self, session: _Session, pdu: Any) -> None:
        command_id = pdu.command_id
        if command_id == fastpdu.SUBMIT_SM:
            self._submit(session, pdu)
        elif command_id in (fastpdu.DELIVER_SM_RESP, fastpdu.GENERIC_NACK):
            self._delivery_answered(session, pdu)
        elif command_id == fastpdu.ENQUIRE_LINK:
            self._counts["enquire_links"] += 1
            session.stream.send(fastpdu.header_only(fastpdu.ENQUIRE_LINK_RESP, 0, pdu.sequence))
        elif command_id == fastpdu.UNBIND:
            session.stream.send(fastpdu.header_only(fastpdu.UNBIND_RESP, 0, pdu.sequence))
            session.stream.close()
        elif pdu.command.startswith("bind_") and not pdu.command.endswith("_resp"):
            self._bind(session, pdu)
        elif not command_id & 0x80000000:
            session.stream.send(fastpdu.header_only(fastpdu.GENERIC_NACK, consts.SMPP_ESME_RINVCMDID, pdu.sequence))

    def _bind(self, session: _Session, pdu: Any) -> None:
        system_id, password = as_str(pdu.system_id), as_str(pdu.password)
        mode = pdu.command[len("bind_") :]
        status = (consts.SMPP_ESME_RALYBND if session.mode is not None
                  else consts.SMPP_ESME_RINVSYSID if system_id not in self.accounts
                  else consts.SMPP_ESME_RINVPASWD if self.accounts[system_id] != password
                  else consts.SMPP_ESME_ROK)
        session.stream.send(encode(make(f"{pdu.command}_resp", sequence=pdu.sequence, status=status,
                                        system_id=SIM_ID)))
        peer = session.stream.transport.get_extra_info("peername") if session.stream.transport else None
        if status != consts.SMPP_ESME_ROK:
            self._counts["bind_failures"] += 1
            log.info("bind %s refused for %r from %s: status %#04x", mode, system_id, peer, status)
            return
        session.system_id, session.mode, session.tally = system_id, mode, self._by_sid[system_id]
        self._counts["binds"] += 1
        self._by_sid[system_id]["binds"] += 1
        log.info("bind %s accepted for %r from %s", mode, system_id, peer)
        if mode != "transmitter":
            self._receivers[system_id].append(session)
            backlog = self._backlog.pop(system_id, deque())
            while backlog:
                self._dispatch(backlog.popleft())

    # -- submits ---------------------------------------------------------------------------------
    def _submit(self, session: _Session, pdu: Any) -> None:
        sid = session.system_id
        if session.mode not in ("transmitter", "transceiver") or sid is None:
            session.stream.send(fastpdu.header_only(fastpdu.SUBMIT_SM_RESP, consts.SMPP_ESME_RINVBNDSTS,
                                                    pdu.sequence))
            return
        counts, totals = session.tally, self._counts
        session.outstanding = outstanding = session.outstanding + 1
        counts["submits"] += 1
        totals["submits"] += 1
        if outstanding > counts["max_outstanding"]:
            counts["max_outstanding"] = outstanding
        if outstanding > totals["max_outstanding"]:
            totals["max_outstanding"] = outstanding
        draw = self._rng.random() if self._refusal_edge else 1.0
        if self.tps and self._over_tps(sid):
            outcome, status = self._over_tps_answer
        elif draw < self._refusal_edge:
            outcome, status = next((name, code) for edge, name, code in self._refusals if draw < edge)
        else:  # accepted: the common case, its submit_sm_resp laid out here
            totals["accepted"] += 1
            counts["accepted"] += 1
            message_id = self._new_message_id()
            quoted = message_id.encode("latin-1")
            resp = _PACK_HEADER(17 + len(quoted), fastpdu.SUBMIT_SM_RESP, 0, pdu.sequence) + quoted + b"\0"
            self._answer(session, resp)
            self._plan_receipt(self._log.record(sid, message_id, pdu), (pdu.registered_delivery or 0) & 0x03)
            if pdu.ussd_service_op is not None:
                self.ussd.answered(sid, pdu)
            return
        totals[outcome] += 1
        counts[outcome] += 1
        self._answer(session, fastpdu.sm_resp(fastpdu.SUBMIT_SM_RESP, pdu.sequence, status, None))

    def _answer(self, session: _Session, resp: bytes) -> None:
        """Send a submit_sm_resp now, or after ``response_delay`` so a client's window shows."""
        if self.response_delay > 0:
            self._later(self.response_delay, self._respond, session, resp)
        else:
            session.outstanding -= 1
            session.stream.send(resp)

    def _over_tps(self, system_id: str) -> bool:
        """Whether this submit is beyond the account's ``tps`` in the current second."""
        second = int(time.monotonic())
        window = self._tps_windows.get(system_id)
        if window is None or window[0] != second:
            window = self._tps_windows[system_id] = [second, 0]
        if window[1] >= self.tps:
            return True
        window[1] += 1
        return False

    def _respond(self, session: _Session, resp: bytes) -> None:
        """A delayed submit_sm_resp going out (``response_delay``)."""
        session.outstanding -= 1
        session.stream.send(resp)

    def _new_message_id(self) -> str:
        if self.id_format == "uuid":
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._next_id += 1
        if self.id_cycle and self._next_id - self._first_id > self.id_cycle:
            self._next_id = self._first_id + 1
        return format(self._next_id, "x") if self.id_format == "hex" else str(self._next_id)

    # -- receipts and MOs ------------------------------------------------------------------------
    def _plan_receipt(self, row: Row, wanted: int) -> None:
        undeliverable = self.undeliverable_rate > 0 and self._rng.random() < self.undeliverable_rate
        if not (wanted == 1 or (wanted == 2 and undeliverable)):
            return
        stat = "UNDELIV" if undeliverable else "DELIVRD"
        message_id, system_id, source, destination, data_coding, _, _, _, at, body, _ = row
        self._log.receipt_stats[message_id] = stat
        self._receipts_planned += 1
        nul = bool(self.nul_receipt_every) and self._receipts_planned % self.nul_receipt_every == 0
        item = (system_id, _RECEIPT_COUNTERS,
                self._receipt_body(message_id, source, destination, data_coding, body, at, stat, nul))
        self._later(self.receipt_delay, self._dispatch, item)

    def _receipt_body(self, message_id: str, source: bytes, destination: bytes, data_coding: int, body: bytes,
                      at: float, stat: str, nul: bool = False) -> bytes:
        """A receipt's deliver_sm body, byte for byte what ``fastpdu.encode_sm`` makes of
        :func:`~engage.engine.smpp.receipts_text.receipt_deliver_fields` (a test holds them equal), laid
        out directly because building and walking that dict was most of the simulator's cost per
        message. The text is SMPP 3.4 Appendix B, quoting the id in ``receipt_id_base``; everything
        between the id and the preview depends only on the stat and two whole seconds, so it is
        formatted once per second."""
        quoted = message_id
        if self.receipt_id_base == "decimal" and self.id_format == "hex":
            quoted = str(int(quoted, 16))
        elif self.receipt_id_base == "hex_upper":
            quoted = quoted.upper()
        done = at + self.receipt_delay
        key = (int(at), int(done), stat)
        middle = self._receipt_middles.get(key)
        if middle is None:
            if len(self._receipt_middles) >= 64:
                self._receipt_middles.clear()
            err = "000" if stat == "DELIVRD" else "001"
            middle = self._receipt_middles[key] = (
                f" sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} submit date:{receipt_stamp(at)} "
                f"done date:{receipt_stamp(done)} stat:{stat} err:{err} text:").encode("ascii", "replace")
        quoted_id = quoted.encode("latin-1")  # hex, decimal or a uuid: ASCII, as the text needs
        if nul:
            quoted_id = quoted_id[:2] + b"\0" + quoted_id[2:]
        text = b"id:%s%s%s" % (quoted_id, middle, body[:20].translate(_PRINTABLE) if data_coding in (0, 1, 3)
                                                  else b"")
        sm = b"\0\x01\x01%s\0\x05\x00%s\0\x04\x00\x00\0\0\x00\x00\x00\x00%c%s" % (
            destination, source, len(text), text)
        if not self.receipt_tlvs or nul:
            return sm
        return b"%s%s%s%s\0%s" % (sm, _RECEIPTED_ID_TAG, (len(quoted_id) + 1).to_bytes(2, "big"), quoted_id,
                                  _STATE_TLVS[stat])

    def _dispatch(self, item: _Outbound) -> None:
        """Send to the account's next receiver bind with room in its window, or hold it until one has."""
        sid = item[0]
        bound = self._receivers.get(sid)
        if bound and len(bound) == 1:  # the usual one receiver: no list to build
            session = bound[0]
            receivers = bound if len(session.unacked) < self.deliver_window and not session.stream.closing else ()
        else:
            receivers = [s for s in bound or ()
                         if not s.stream.closing and len(s.unacked) < self.deliver_window]
        if not receivers:
            self._backlog[sid].append(item)
            return
        turn = self._round_robin[sid]
        session = receivers[turn % len(receivers)]
        self._round_robin[sid] = turn + 1
        seq = session.seq.next_sequence()
        session.unacked[seq] = item
        body = item[2]
        session.stream.send(_PACK_HEADER(16 + len(body), fastpdu.DELIVER_SM, 0, seq) + body)
        self._counts[item[1][0]] += 1

    def _delivery_answered(self, session: _Session, pdu: Any) -> None:
        item = session.unacked.pop(pdu.sequence, None)
        if item is None:
            return
        if pdu.command_id == fastpdu.DELIVER_SM_RESP and pdu.status == consts.SMPP_ESME_ROK:
            self._counts[item[1][1]] += 1
        else:
            self._counts[item[1][2]] += 1
            self._later(self.retry_delay, self._dispatch, item)
        backlog = self._backlog.get(item[0])
        if backlog:  # a window slot just opened
            self._dispatch(backlog.popleft())

    def _later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        queue = self._due.get(delay)
        if queue is None:
            queue = self._due[delay] = deque()
        queue.append((time.monotonic() + delay, next(self._order), action, args))

    async def _tick(self) -> None:
        """One timer for every delayed response, receipt and retry, however many there are."""
        while True:
            await asyncio.sleep(TICK)
            self._run_due(time.monotonic())

    def _run_due(self, now: float) -> None:
        """Run every action due by ``now`` in (due time, scheduling order), as one heap would."""
        while True:
            ready: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
            queues = 0
            for queue in self._due.values():
                if queue and queue[0][0] <= now:
                    queues += 1
                    while queue and queue[0][0] <= now:
                        ready.append(queue.popleft())
            if not ready:
                return
            if queues > 1:
                ready.sort(key=_DUE_ORDER)
            for _, _, action, args in ready:
                try:
                    action(*args)
                except Exception:
                    log.exception("simulator timer action failed")


def start_in_thread(**kwargs: Any) -> SmscSimulator:
    """Run a simulator on its own event loop in a daemon thread; returns once it is listening."""
    from engage.simulators.smsc_cli import run_in_thread

    return run_in_thread(SmscSimulator(**kwargs))
