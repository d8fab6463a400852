"""USSD on an SMPP provider's binds: a USSD deliver_sm is neither a receipt nor an MO, and its
answer must reach the subscriber's phone within the SMSC's USSD timeout (seconds), so it takes the
shortest path there is: read on the bind it came by, acknowledged at once, handed to the
provider's ``on_ussd`` (the USSD engine, set by the send worker that holds the binds), and
answered with a submit_sm on a bind of the same provider, not through the broker.

What the handler returns is (text, ends); the answer is a USSR request (``ends`` false: the
phone shows an input field) or a PSSR response (the last screen), with its_session_info echoed
(:mod:`engage.engine.smpp.ussd_ops`). A handler that fails or is missing still answers: the
session ends with a short apology rather than leaving the phone waiting for the SMSC's timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from engage.engine.smpp.client import ResponseTimeout, SmppConnectionError
from engage.engine.smpp.client_types import DeliverSm
from engage.engine.smpp.fastpdu import encode_tlvs
from engage.engine.smpp.ussd_ops import (
    SHORT_MESSAGE_MAX,
    UssdOps,
    UssdRequest,
    UssdWireError,
    answer_body,
    answer_tlvs,
    read_request,
)

if TYPE_CHECKING:
    from engage.engine.providers.smpp.provider import SmppProvider

__all__ = ["UNAVAILABLE", "UssdDesk", "UssdHandler"]

log = logging.getLogger(__name__)

# (provider id, provider name, the request) -> (text, ends)
UssdHandler = Callable[[int, str, UssdRequest], Awaitable[tuple[str, bool]]]

UNAVAILABLE = "This service is not available now. Please try again later."
INVALID_TLV_VALUE = 0xC4  # ESME_RINVOPTPARAMVAL: what a deliver_sm engage cannot read as USSD is answered
ANSWER_ATTEMPTS = 3  # a dropped bind or a throttle is retried at once on another bind; the phone is waiting
THROTTLED = frozenset({0x58, 0x14})
TEMPORARY = frozenset({0x08, 0x64})


class UssdDesk:
    """The USSD hops of one SMPP provider: each handled in a task of its own, so that a slow menu
    never holds the bind's other deliveries (receipts, MOs, other subscribers' hops)."""

    def __init__(self, provider: SmppProvider) -> None:
        self.provider = provider
        self.ops = UssdOps.from_config(provider.settings.as_config())
        self._tasks: set[asyncio.Task[None]] = set()

    def take(self, deliver: DeliverSm) -> int:
        """The deliver_sm_resp status for a USSD deliver_sm: 0, its hop now on its way; or
        ESME_RINVOPTPARAMVAL for one that cannot be read (logged with the reason)."""
        try:
            request = read_request(deliver, self.ops)
        except UssdWireError as exc:
            log.warning("provider %s: USSD deliver_sm refused: %s", self.provider.name, exc)
            return INVALID_TLV_VALUE
        task = asyncio.create_task(self._hop(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return 0

    async def _hop(self, request: UssdRequest) -> None:
        provider = self.provider
        handler = provider.on_ussd
        if handler is None:
            log.warning("provider %s: a USSD hop from %s but no USSD gateway serves this provider here",
                        provider.name, request.source)
            text, ends = UNAVAILABLE, True
        else:
            try:
                text, ends = await handler(provider.provider_id, provider.name, request)
            except Exception:
                log.exception("provider %s: USSD hop from %s failed; the session ends", provider.name, request.source)
                text, ends = UNAVAILABLE, True
        await self.answer(request, text, ends)

    async def answer(self, request: UssdRequest, text: str, ends: bool) -> int:
        """Submit the answer on a bound sender of this provider; its submit_sm_resp status, or -1
        when no bind took it (logged: the subscriber's phone then times out)."""
        provider, s = self.provider, self.provider.settings
        data_coding, body = answer_body(text, s.data_coding)
        tlvs = answer_tlvs(self.ops, ends, request.its_session_info)
        if len(body) > SHORT_MESSAGE_MAX:
            tlvs["message_payload"] = body  # type: ignore[assignment]
            body = b""
        encoded = encode_tlvs(tlvs)
        source = request.destination  # the service's address, as the SMSC delivered to it
        ton, npi = (s.source_ton, s.source_npi) if s.source_ton is not None else (0, 1)
        status: int = -1
        for _ in range(ANSWER_ATTEMPTS):
            try:
                client = provider._pick() or await provider._sender()
                result = await client.submit_encoded(source, request.source, body, data_coding, 0, 0, encoded,
                                                     ton, npi, service_type=self.ops.service_type)
            except (ResponseTimeout, SmppConnectionError) as exc:
                log.warning("provider %s: USSD answer to %s not sent: %s", provider.name, request.source, exc)
                continue
            status = result.status
            if status == 0 or (status not in THROTTLED and status not in TEMPORARY):
                break
        if status != 0:
            log.warning("provider %s: USSD answer to %s refused by the SMSC (status %#x)", provider.name,
                        request.source, status)
        return status

    async def close(self) -> None:
        """Let the hops under way answer (briefly): the phones are waiting for them."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.provider.settings.response_timeout)
