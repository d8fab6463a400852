"""The SMPP provider kind: a set of binds to one SMSC, windowed, paced by parts.

* Binds: ``binds`` transceivers, or (``bind_mode: transmitter_receiver``) ``binds`` transmitters
  for submits plus ``receiver_binds`` receivers for receipts and MOs. Each bind has a
  supervisor that rebinds a dropped or dead one (enquire_link unanswered) with back-off.
* Pacing: one adaptive rate per provider counts parts (:mod:`engage.engine.providers.pacing`).
  ESME_RTHROTTLED (0x58) and ESME_RMSGQFUL (0x14) cut it to what the SMSC accepted and pause
  every sender of the provider; the part is retried without using up its attempts.
* Errors: timeouts, dropped connections, 0x08 (system error) and 0x64 (temporary app error)
  are retried with bounded exponential back-off, ``max_attempts`` times per part; any other
  status fails the message with "smpp:0x..", the SMSC's own code.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

from engage.engine.providers.base import InboundSms, OutboundSms, ProviderConnection, SendOutcome, register
from engage.engine.providers.pacing import AdaptiveRate
from engage.engine.providers.recent_submits import RecentSubmits
from engage.engine.providers.send_pool import SendPool, Settle
from engage.engine.providers.smpp.receipts import read_receipt
from engage.engine.providers.smpp.ussd import UssdDesk, UssdHandler
from engage.engine.smpp import longsms, settings
from engage.engine.smpp.client import BindError, DeliverSm, EsmeClient, ResponseTimeout, SmppConfig, SmppConnectionError
from engage.engine.smpp.fastpdu import encode_tlvs
from engage.engine.smpp.multipart import split_udh
from engage.engine.smpp.receipts_text import DeliveryReport
from engage.engine.smpp.ussd_ops import is_ussd

log = logging.getLogger(__name__)

THROTTLED = frozenset({0x58, 0x14})  # ESME_RTHROTTLED, ESME_RMSGQFUL: slow the provider down, retry
TEMPORARY = frozenset({0x08, 0x64})  # system error, temporary app error: retried with back-off
INVALID_SOURCE = 0x0A  # what an SMSC would answer to a sender it cannot encode; we answer it ourselves
INVALID_LENGTH = 0x01  # a text over 255 parts
DELIVERY_REFUSED = 0x64  # ESME_RX_T_APPN to a deliver_sm we could not read: the SMSC tries again later
RETRY_DELAY, RETRY_DELAY_MAX = 0.05, 5.0
REBIND_DELAY, REBIND_DELAY_MAX, REFUSED_BIND_DELAY = 0.2, 30.0, 10.0
THROTTLE_GIVE_UP = 300.0  # seconds of uninterrupted throttling of one part before it fails


def _jitter(delay: float) -> float:
    return delay * random.uniform(0.75, 1.25)


@register("smpp")
class SmppProvider(ProviderConnection):
    # Answers USSD hops (providers/smpp/ussd.py); set by the send worker to the USSD engine's gateway
    on_ussd: UssdHandler | None = None

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """See :mod:`engage.engine.smpp.settings` for the keys, defaults and limits."""
        return settings.validate(config)

    async def start(self) -> None:
        """Start every bind's supervisor; return once each bind has bound or failed its first try."""
        s = self.settings = settings.SmppSettings(**settings.validate(self.config))
        self.pace = AdaptiveRate(self.tps)
        split = s.bind_mode == "transmitter_receiver"
        self.senders = [self._client("transmitter" if split else "transceiver") for _ in range(s.binds)]
        self.receivers = [self._client("receiver") for _ in range(s.receiver_binds if split else 0)]
        self._stopping = False
        self._bind_up = asyncio.Event()
        self._ref = random.randrange(0x10000)
        self._ref_mask = 0xFF if s.long_messages == "udh8" else 0xFFFF
        self._sources: dict[str, tuple[str, int | None, int | None]] = {}
        self.recent = RecentSubmits()
        self.ussd = UssdDesk(self)
        first_tries = [asyncio.get_running_loop().create_future() for _ in (*self.senders, *self.receivers)]
        self._supervisors = [asyncio.create_task(self._supervise(client, tried))
                             for client, tried in zip((*self.senders, *self.receivers), first_tries, strict=True)]
        # one sender coroutine per window slot: more could only queue on the windows
        self._pool = SendPool(self.send_unless_held, s.binds * s.window)
        await asyncio.wait(first_tries, timeout=s.response_timeout + 1)

    def _client(self, mode: str) -> EsmeClient:
        s = self.settings
        config = SmppConfig(host=s.host, port=s.port, system_id=s.system_id, password=s.password,
                            system_type=s.system_type, service_type=s.service_type, bind_mode=mode,
                            window=s.window, enquire_link_interval=s.enquire_link_interval,
                            response_timeout=s.response_timeout, source_ton=5 if s.source_ton is None else
                            s.source_ton, source_npi=0 if s.source_npi is None else s.source_npi,
                            dest_ton=s.dest_ton, dest_npi=s.dest_npi)
        return EsmeClient(config, on_deliveries=self._on_deliveries)

    async def _supervise(self, client: EsmeClient, first_try: asyncio.Future[None]) -> None:
        """Keep one bind up for as long as the provider runs."""
        delay, bound_before, mode = REBIND_DELAY, False, client.config.bind_mode
        where = f"{self.settings.host}:{self.settings.port}"
        while not self._stopping:
            try:
                await client.connect()
            except BindError as exc:
                log.error("provider %s: %s bind to %s refused: %s", self.name, mode, where, exc)
                delay = max(delay, REFUSED_BIND_DELAY)
            except (SmppConnectionError, ResponseTimeout, OSError) as exc:
                log.warning("provider %s: %s bind to %s failed (%s); retrying in %.1fs", self.name, mode, where,
                            exc, delay)
            else:
                if bound_before:
                    self.stats.reconnects += 1
                bound_before, delay = True, REBIND_DELAY
                log.info("provider %s: %s bound to %s", self.name, mode, where)
                self._binds_changed()
                if not first_try.done():
                    first_try.set_result(None)
                await client.wait_unbound()
                self._binds_changed()
                if self._stopping:
                    return
                log.warning("provider %s: %s bind to %s lost; rebinding", self.name, mode, where)
                await asyncio.sleep(_jitter(0.05))
                continue
            if not first_try.done():
                first_try.set_result(None)
            await asyncio.sleep(_jitter(delay))
            delay = min(delay * 2, REBIND_DELAY_MAX)

    def _binds_changed(self) -> None:
        if any(c.bound for c in self.senders):
            self._bind_up.set()
        else:
            self._bind_up.clear()

    def _pick(self) -> EsmeClient | None:
        """The bound sender with the least work queued on it, if any is bound."""
        best: EsmeClient | None = None
        for client in self.senders:
            if client.bound and (best is None or client.load < best.load):
                best = client
        return best

    async def _sender(self) -> EsmeClient:
        """A bound sender, waiting up to ``response_timeout`` for one to come up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.response_timeout
        while not self._stopping:
            best = self._pick()
            if best is not None:
                return best
            self._bind_up.clear()  # none is bound, whatever the supervisors have seen so far
            try:
                await asyncio.wait_for(self._bind_up.wait(), timeout=max(deadline - loop.time(), 0))
            except TimeoutError:
                break
        raise SmppConnectionError(f"provider {self.name}: no bind is up")

    def _source(self, sender: str) -> tuple[str, int | None, int | None]:
        """The sender as source_addr with its TON/NPI: configured, or read from its form. A
        campaign has one sender for all its messages, so the answer is remembered."""
        known = self._sources.get(sender)
        if known is None:
            if len(self._sources) >= 1000:
                self._sources.clear()
            known = self._sources[sender] = self._read_source(sender)
        return known

    def _read_source(self, sender: str) -> tuple[str, int | None, int | None]:
        s = self.settings
        digits = sender[1:] if sender.startswith("+") else sender
        if s.source_ton is not None:
            return (digits if digits.isdigit() else sender), s.source_ton, s.source_npi
        if digits.isdigit() and (sender.startswith("+") or len(digits) > 8):
            return digits, 1, 1  # international
        if digits.isdigit():
            return digits, 0, 1  # a short code
        return sender, 5, 0  # alphanumeric

    async def send_batch(self, batch: list[OutboundSms], settle: Settle | None = None) -> list[SendOutcome]:
        """Sent by the provider's pool of sender coroutines, not a task per message; with settle,
        never more than binds x window sent and not yet settled."""
        return await self._pool.send(batch, settle)

    async def send(self, sms: OutboundSms) -> SendOutcome:
        outcome = SendOutcome(sms.id)
        s = self.settings
        self._ref = (self._ref + 1) & self._ref_mask
        try:
            data_coding, parts = longsms.plan(sms.text, s.long_messages, s.data_coding, self._ref)
        except ValueError as exc:
            log.warning("provider %s: message %s not sent: %s", self.name, sms.id, exc)
            return self._failed(outcome, f"smpp:{INVALID_LENGTH:#04x}")
        source, ton, npi = self._source(sms.sender)
        destination = sms.to[1:] if sms.to.startswith("+") else sms.to
        for esm_class, short_message, tlvs in parts:
            status, part_id = await self._submit_part(sms.id, source, ton, npi, destination, esm_class,
                                                      short_message, encode_tlvs(tlvs) if tlvs else b"",
                                                      data_coding)
            if part_id is None:
                return self._failed(outcome, status if isinstance(status, str) else f"smpp:{status:#04x}")
            outcome.part_ids.append(part_id)  # kept on a later failure: these parts did reach the SMSC
        if len(parts) == 1 and parts[0][2] is None:  # one part, by the same count the dispatcher made
            self.recent.remember(outcome.part_ids[0], sms.id)
        return outcome

    def _failed(self, outcome: SendOutcome, error: str) -> SendOutcome:
        self.stats.permanent_errors += 1
        outcome.error = error
        return outcome

    async def _submit_part(self, message_id: int, source: str, ton: int | None, npi: int | None,
                           destination: str, esm_class: int, short_message: bytes, tlvs: bytes,
                           data_coding: int) -> tuple[int | str, str | None]:
        """``(0, provider id)``, or ``(status or "smpp:why", None)`` once the part cannot go."""
        stats, pace = self.stats, self.pace
        attempts, delay, throttled_since = 0, RETRY_DELAY, 0.0
        while True:
            if not pace.try_acquire(1):
                await pace.acquire(1)
            sent_at = time.monotonic()
            try:
                client = self._pick() or await self._sender()
                result = await client.submit_encoded(source, destination, short_message, data_coding, esm_class,
                                                     self.settings.registered_delivery, tlvs, ton, npi)
            except (ResponseTimeout, SmppConnectionError) as exc:
                status: int | str = "smpp:timeout" if isinstance(exc, ResponseTimeout) else "smpp:connection"
                log.debug("provider %s: submit of message %s interrupted: %s", self.name, message_id, exc)
            except (UnicodeEncodeError, ValueError) as exc:
                log.warning("provider %s: message %s has an unusable address: %s", self.name, message_id, exc)
                return INVALID_SOURCE, None
            else:
                status = result.status
                if status == 0:
                    if result.message_id:
                        stats.submitted_parts += 1
                        pace.accepted()
                        return 0, result.message_id
                    log.warning("provider %s: part of message %s accepted without a message id", self.name,
                                message_id)
                    return "smpp:no-message-id", None
                if status in THROTTLED:
                    stats.throttled += 1
                    pace.throttled(sent_at)
                    now = time.monotonic()
                    throttled_since = throttled_since or now
                    if now - throttled_since < THROTTLE_GIVE_UP:
                        continue  # the pace, now slower, paces the retry; attempts are not used up
                    return status, None
                if status not in TEMPORARY:
                    return status, None
            throttled_since = 0.0
            stats.temporary_errors += 1
            attempts += 1
            if attempts >= self.settings.max_attempts or self._stopping:
                return status, None
            await asyncio.sleep(_jitter(delay))
            delay = min(delay * 2, RETRY_DELAY_MAX)

    async def _on_deliveries(self, delivers: list[DeliverSm]) -> list[int]:
        """Receipts and MOs that arrived together go to the sink in one hand-over; one that
        cannot be read is refused alone (the SMSC sends it again), not with the rest. USSD hops
        go to the USSD desk instead, answered on the binds within milliseconds."""
        statuses = [0] * len(delivers)
        receipts: list[DeliveryReport] = []
        inbound: list[InboundSms] = []
        for i, deliver in enumerate(delivers):
            try:
                if is_ussd(deliver):  # answered on the binds, not through the sink
                    statuses[i] = self.ussd.take(deliver)
                    continue
                receipt = read_receipt(deliver)
                if receipt is not None:
                    if receipt.final:
                        receipt.ours = self.recent.take(receipt.message_id)
                    receipts.append(receipt)
                else:
                    inbound.append(self._inbound(deliver))
            except Exception:
                log.exception("provider %s: unreadable deliver_sm from %s; refused", self.name, deliver.source_addr)
                statuses[i] = DELIVERY_REFUSED
        hand_over = getattr(self.sink, "hand_over", None)
        if hand_over is not None:
            await hand_over(self.provider_id, receipts, inbound)
        else:  # a sink that takes them one at a time
            await asyncio.gather(*(self.sink.receipt(self.provider_id, r) for r in receipts),
                                 *(self.sink.inbound(self.provider_id, sms) for sms in inbound))
        return statuses

    def _inbound(self, deliver: DeliverSm) -> InboundSms:
        body = deliver.message_payload or deliver.short_message
        if deliver.esm_class & 0x40:
            split = split_udh(body)
            body = split[3] if split else body
        text = longsms.decode_text(body, deliver.data_coding)
        return InboundSms(deliver.source_addr, deliver.destination_addr, text)

    async def stop(self) -> None:
        self._stopping = True
        self._bind_up.set()  # wake anyone waiting for a bind: they will find none and give up
        for task in self._supervisors:
            task.cancel()
        await asyncio.gather(*self._supervisors, return_exceptions=True)
        await self.ussd.close()
        await asyncio.gather(*(c.close() for c in (*self.senders, *self.receivers)), return_exceptions=True)
        await self._pool.close(timeout=self.settings.response_timeout)  # what is left fails fast: no bind

    def status(self) -> dict[str, Any]:
        clients = (*self.senders, *self.receivers)
        senders_up = sum(c.bound for c in self.senders)
        return {"binds_up": sum(c.bound for c in clients), "binds": len(clients),
                "in_flight": sum(c.in_flight for c in self.senders),
                "window": len(self.senders) * self.settings.window, "healthy": senders_up > 0,
                "rate": round(self.pace.rate, 1), "rate_cuts": self.pace.cuts, "paused": self.pace.paused}
