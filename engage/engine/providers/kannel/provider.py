"""The Kannel provider kind: Kannel's sendsms HTTP interface (and gateways that copy it), both ways.

Sending: one request per part (wire.py: engage cuts long texts and frames the parts itself),
GET or Kannel's POST, with the campaign's deadline as the validity, its id as the account,
and the provider's priority, message class, binfo and meta-data. Kannel answers a submit with
no message id, so the id receipts quote is ours, one per part: it travels in the part's dlr-url,
which Kannel calls back at /callbacks/kannel/<provider id> (dlr.py reads it). Subscribers' own
messages come from an sms-service's get-url at /callbacks/kannel/<provider id>/mo (mo.py).

Health: Kannel's status page (status_page.py) when ``status_url`` is configured; a link that is
down makes the provider unhealthy, so its traffic goes elsewhere, and its sender stops taking
batches until the link is back.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from tornado.httpclient import HTTPRequest, HTTPResponse

from engage.engine import sms_encoding
from engage.engine.providers.base import CallbackRequest, OutboundSms, SendOutcome, register
from engage.engine.providers.http_base import HttpProvider
from engage.engine.providers.kannel import settings, wire
from engage.engine.providers.kannel.dlr import read_dlr
from engage.engine.providers.kannel.mo import read_mo
from engage.engine.providers.kannel.status_page import StatusWatch
from engage.engine.providers.kannel.wire import KannelPart
from engage.engine.sms_encoding import TextInfo

log = logging.getLogger(__name__)


@register("kannel")
class KannelProvider(HttpProvider):
    callback_name = "kannel"
    callback_methods = frozenset({"GET", "POST"})  # Kannel's dlr-url is fetched, or posted as a form
    inbound_methods = frozenset({"GET", "POST"})  # an sms-service's get-url (mo.py), or its arguments as a form

    @classmethod
    def parse_callback(cls, config: dict[str, Any], request: CallbackRequest) -> list[dict[str, Any]]:
        return read_dlr(request.arguments)

    @classmethod
    def parse_inbound(cls, config: dict[str, Any], request: CallbackRequest) -> list[dict[str, Any]]:
        return read_mo(request.arguments, request.raw_arguments)

    @classmethod
    def inbound_answer(cls, stored: int) -> tuple[str, bytes]:
        """Nothing for smsbox to send the subscriber: an empty text (see mo.py for max-messages = 0)."""
        return "text/plain; charset=UTF-8", b""

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        return settings.validate(config)

    async def start(self) -> None:
        await super().start()
        self.watch: StatusWatch | None = None
        if self.config.get("status_url"):
            self.watch = StatusWatch(self.config["status_url"], self.config.get("status_password"),
                                     self.config.get("smsc"), float(self.config["status_interval"]), self.name)
            await self.watch.start()

    async def stop(self) -> None:
        if getattr(self, "watch", None) is not None:
            await self.watch.stop()
        await super().stop()

    def dlr_url(self, our_id: str) -> str:
        """Kannel substitutes %d, %T and %A (URL-encoding what it puts in); the rest is ours and
        URL-safe by construction, so no '%' of our own can be mistaken for an escape."""
        return self.callback_url(self.callback_name, id=our_id, status="%d", ts="%T", smsc_reply="%A")

    def parts(self, sms: OutboundSms, info: TextInfo) -> list[KannelPart]:
        """The message's parts, each with its own id (``<message>-<random>``, ``.<n>`` after it for
        a long one): one send's ids, kept across its retries, so a report for an attempt that timed
        out but went through still matches, and a later resend's are new."""
        our_id = f"{sms.id}-{secrets.token_hex(4)}"
        pieces = sms_encoding.split_text(sms.text, info)
        if len(pieces) == 1:
            return [KannelPart(sms.text, None, our_id)]
        ref = secrets.randbelow(256)
        return [KannelPart(piece, wire.concatenation_udh(ref, len(pieces), seq), f"{our_id}.{seq}")
                for seq, piece in enumerate(pieces, start=1)]

    def part_request(self, sms: OutboundSms, part: KannelPart, info: TextInfo) -> HTTPRequest:
        cfg = self.config
        validity = wire.validity_minutes(sms.valid_until, cfg.get("validity"), datetime.now(UTC))
        params = wire.parameters(cfg, to=sms.to, sender=sms.sender, coding=wire.CODING[info.encoding], part=part,
                                 dlr_url=self.dlr_url(part.our_id) if cfg["dlr_mask"] else None,
                                 campaign_id=sms.campaign_id, message_id=sms.id, validity=validity)
        return wire.request(cfg, params, part.text)

    def build_request(self, sms: OutboundSms, our_id: str, info: TextInfo) -> HTTPRequest:
        """The request of a text that fits one SMS; send() cuts longer ones into parts first."""
        return self.part_request(sms, KannelPart(sms.text, None, our_id), info)

    def read_answer(self, response: HTTPResponse, our_id: str) -> tuple[str | None, str | None]:
        error = wire.refusal(response)
        return (None, error) if error else (our_id, None)

    async def send(self, sms: OutboundSms) -> SendOutcome:
        """Part after part; a part refused ends the message there, with the parts already taken
        recorded (their reports must still match) and the message failed, not sent again."""
        info = sms_encoding.analyse(sms.text)
        outcome = SendOutcome(sms.id)
        for part in self.parts(sms, info):
            response, error = await self._submit(self.part_request(sms, part, info), 1, sms.id)
            if response is not None:
                part_id, error = self.read_answer(response, part.our_id)
            if error is not None:
                self.stats.permanent_errors += 1
                outcome.error = error
                log.info("provider %s: message %s failed at part %d: %s", self.name, sms.id,
                         len(outcome.part_ids) + 1, error)
                return outcome
            self.stats.submitted_parts += 1
            outcome.part_ids.append(part_id)
        return outcome

    def status(self) -> dict[str, Any]:
        out = {**super().status(), "smsc": self.config.get("smsc"),
               "dlr_mask": self.config.get("dlr_mask", settings.DEFAULT_DLR_MASK),
               "method": self.config.get("method", "GET")}
        watch = getattr(self, "watch", None)
        if watch is not None:
            health = watch.health
            out.update(healthy=out["healthy"] and health.healthy, link=health.link, kannel_queued=health.queued,
                       status_page=watch.shown)
            out["binds_up"] = int(out["healthy"])
            if health.problem:
                out["status_problem"] = health.problem
        return out
