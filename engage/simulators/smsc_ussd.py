"""USSD sessions the SMSC simulator originates, as a subscriber's phone behind a real SMSC would:
dial a code, see engage's answer (a submit_sm with ussd_service_op), type the next answer.

``sim.ussd.dial("998901234567", "*123#")`` sends a deliver_sm with service_type "USSD",
ussd_service_op 1 (PSSR indication) and its_session_info (a session number of its own) to the
account's receiver binds; every submit_sm that answers it is logged on the call, in order, as a
:class:`UssdScreen`; ``call.reply("1")`` sends the next deliver_sm, ussd_service_op 18 (USSR
confirm). A test waits for a screen with ``call.next_screen(timeout)`` (blocking) or
``await call.screen(timeout)`` (asyncio): each resolves when that screen arrived, never by polling.

The op codes are arguments (operators differ); an answer is matched to its call by the
session number it echoes in its_session_info, or by the subscriber's number when it echoes none.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from engage.engine.smpp import fastpdu
from engage.engine.smpp.longsms import decode_text
from engage.engine.smpp.ussd_ops import END_OF_SESSION

__all__ = ["UssdCall", "UssdScreen", "UssdSessions"]


@dataclass(frozen=True)
class UssdScreen:
    """One answer engage submitted to a call."""

    text: str
    op: int  # its ussd_service_op
    ends: bool  # the op said so (the call's end op), or its_session_info's end-of-session flag did
    its_session_info: int | None
    service_type: str
    source: str  # the service address engage answered from


class UssdCall:
    """One subscriber's session, from the phone's side."""

    def __init__(self, sessions: UssdSessions, system_id: str, msisdn: str, code: str, address: str,
                 session: int | None, ops: dict[str, int]) -> None:
        self.system_id, self.msisdn, self.code, self.address = system_id, msisdn, code, address
        self.session, self.ops = session, ops
        self._sessions = sessions
        self._lock = threading.Lock()
        self._futures: list[Future[UssdScreen]] = []
        self._arrived = 0  # screens logged so far
        self._taken = 0  # screens handed to next_screen / screen
        self._sequence = 0  # the dialogue's sequence number, bits 7..1 of its_session_info's second octet

    @property
    def screens(self) -> list[UssdScreen]:
        """Every screen engage sent on this call so far, in order."""
        with self._lock:
            return [f.result() for f in self._futures[:self._arrived]]

    def next_screen(self, timeout: float = 10.0) -> UssdScreen:
        """The next screen not yet taken, waiting for it up to ``timeout`` seconds (TimeoutError)."""
        return self._next().result(timeout=timeout)

    async def screen(self, timeout: float = 10.0) -> UssdScreen:
        """:meth:`next_screen` for asyncio code."""
        return await asyncio.wait_for(asyncio.wrap_future(self._next()), timeout)

    def reply(self, text: str) -> None:
        """The subscriber answers the last screen (ussd_service_op ``answer``, 18 by default)."""
        self._sequence = (self._sequence + 1) & 0x7F
        self._sessions.send(self, self.ops["answer"], text)

    def its_session_info(self) -> int | None:
        return None if self.session is None else (self.session << 8) | (self._sequence << 1)

    def _next(self) -> Future[UssdScreen]:
        with self._lock:
            future = self._slot(self._taken)
            self._taken += 1
            return future

    def _slot(self, index: int) -> Future[UssdScreen]:
        while len(self._futures) <= index:
            self._futures.append(Future())
        return self._futures[index]

    def arrived(self, screen: UssdScreen) -> None:
        with self._lock:
            future = self._slot(self._arrived)
            self._arrived += 1
        future.set_result(screen)


class UssdSessions:
    """The USSD calls of one simulator. ``send_deliver(system_id, body)`` queues a deliver_sm body
    (all but its header) for the account's receiver binds, as the simulator does an MO."""

    def __init__(self, accounts: list[str], send_deliver: Callable[[str, bytes], None]) -> None:
        self._accounts = accounts
        self._send_deliver = send_deliver
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str, int | None], UssdCall] = {}

    def dial(self, msisdn: str, code: str, *, system_id: str = "", address: str | None = None,
             session_info: bool = True, open_op: int = 1, answer_op: int = 18, end_op: int = 17) -> UssdCall:
        """A subscriber dials ``code``: a PSSR indication (``open_op``) from ``msisdn`` (digits, a
        leading "+" dropped) to ``address`` (by default the code's digits: "*123#" -> "123").
        ``session_info=False`` sends no its_session_info, as some SMSCs do."""
        sid = system_id or self._accounts[0]
        digits = msisdn.lstrip("+")
        with self._lock:
            session = next(self._numbers) & 0xFF if session_info else None
            call = UssdCall(self, sid, digits, code,
                            address if address is not None else "".join(c for c in code if c.isdigit()),
                            session, {"open": open_op, "answer": answer_op, "end": end_op})
            self._calls[(sid, digits, session)] = call
        self.send(call, open_op, code)
        return call

    def send(self, call: UssdCall, op: int, text: str) -> None:
        ucs2 = not text.isascii()
        fields: dict[str, Any] = {
            "service_type": "USSD", "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": call.msisdn,
            "dest_addr_ton": 0, "dest_addr_npi": 1, "destination_addr": call.address, "esm_class": 0,
            "data_coding": 8 if ucs2 else 0, "short_message": text.encode("utf-16-be" if ucs2 else "ascii"),
            "ussd_service_op": op, "its_session_info": call.its_session_info()}
        body = fastpdu.encode_sm(fastpdu.DELIVER_SM, 0, fields)[fastpdu.HEADER.size:]
        self._send_deliver(call.system_id, body)

    def answered(self, system_id: str, pdu: Any) -> None:
        """A submit_sm with an ussd_service_op, accepted: log it on its call (on the simulator's loop)."""
        digits = pdu.destination_addr.decode("latin-1").lstrip("+")
        info = pdu.its_session_info
        with self._lock:
            call = self._calls.get((system_id, digits, None if info is None else (info >> 8) & 0xFF))
            if call is None:  # no session number echoed: the number's latest call
                call = next((c for (sid, number, _), c in reversed(self._calls.items())
                             if sid == system_id and number == digits), None)
        if call is None:
            return
        body = pdu.message_payload if not pdu.short_message and pdu.message_payload else pdu.short_message
        ends = pdu.ussd_service_op == call.ops["end"] or (info is not None and bool(info & END_OF_SESSION))
        call.arrived(UssdScreen(text=decode_text(body or b"", pdu.data_coding or 0), op=pdu.ussd_service_op,
                                ends=ends, its_session_info=info, service_type=(pdu.service_type or b"").decode(
                                    "latin-1"), source=pdu.source_addr.decode("latin-1")))
