"""The SMPP provider kind: a set of binds to one SMSC, windowed, paced by parts.

Throttling answers (ESME_RTHROTTLED, ESME_RMSGQFUL) slow down and retry; a dropped bind
reconnects with back-off; only a permanent error fails a message, with the SMSC's code.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from typing import Any

from engage.engine.providers.base import InboundSms, OutboundSms, ProviderConnection, SendOutcome, register
from engage.engine.smpp.client import DeliverSm, EsmeClient, SmppConfig, SmppConnectionError
from engage.engine.smpp.multipart import split_udh, udh_parts
from engage.engine.smpp.receipts_text import receipt_from_deliver
from engage.engine.templates import encoding
from engage.engine.throttle import TokenBucket

log = logging.getLogger(__name__)

THROTTLED = {0x58, 0x14}  # ESME_RTHROTTLED, ESME_RMSGQFUL
TEMPORARY = THROTTLED | {0x08, 0x64}  # + system error, temporary app error: retried with back-off
MAX_ATTEMPTS = 8
_CONFIG_KEYS = {"host", "port", "system_id", "password", "system_type", "bind_mode", "window",
                "enquire_link_interval", "response_timeout", "source_ton", "source_npi", "dest_ton", "dest_npi"}


@register("smpp")
class SmppProvider(ProviderConnection):
    async def start(self) -> None:
        cfg = {k: v for k, v in self.config.items() if k in _CONFIG_KEYS}
        self.smpp_config = SmppConfig(**cfg)
        self.bucket = TokenBucket(self.tps)
        self.clients = [EsmeClient(self.smpp_config, on_deliver=self._on_deliver)
                        for _ in range(int(self.config.get("binds", 1)))]
        self._next = itertools.cycle(range(len(self.clients)))
        self._ref = random.randrange(256)
        self._stopping = False
        await asyncio.gather(*(self._bind(c) for c in self.clients))
        self._keeper = asyncio.create_task(self._keep_bound())

    async def _bind(self, client: EsmeClient) -> None:
        delay = 0.2
        while not self._stopping:
            try:
                await client.connect()
                log.info("provider %s: bound to %s:%s", self.name, self.smpp_config.host, self.smpp_config.port)
                return
            except (TimeoutError, OSError, SmppConnectionError) as exc:
                log.warning("provider %s: bind failed (%s); retrying in %.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            except Exception as exc:  # a refused bind (bad password) is logged, and retried slowly
                log.error("provider %s: bind refused: %s", self.name, exc)
                await asyncio.sleep(10.0)

    async def _keep_bound(self) -> None:
        while not self._stopping:
            for client in self.clients:
                if not client.bound and not self._stopping:
                    await self._bind(client)
            await asyncio.sleep(0.2)

    async def _client(self) -> EsmeClient:
        for _ in range(len(self.clients) * 50):
            client = self.clients[next(self._next)]
            if client.bound:
                return client
            await asyncio.sleep(0.02)
        raise SmppConnectionError(f"provider {self.name}: no bind is up")

    async def send(self, sms: OutboundSms) -> SendOutcome:
        info = encoding.analyse(sms.text)
        self._ref = (self._ref + 1) % 256
        pieces = udh_parts(encoding.split(sms.text, info), self._ref)
        outcome = SendOutcome(sms.id)
        for esm_class, payload in pieces:
            status, part_id = await self._submit_part(sms, esm_class, payload, info.data_coding)
            if part_id is None:
                outcome.error = f"smpp:{status:#04x}"
                return outcome
            outcome.part_ids.append(part_id)
        return outcome

    async def _submit_part(self, sms: OutboundSms, esm_class: int, payload: bytes,
                           data_coding: int) -> tuple[int, str | None]:
        delay = 0.05
        status = 0
        for _attempt in range(MAX_ATTEMPTS):
            await self.bucket.acquire(1)
            try:
                client = await self._client()
                result = await client.submit(source=sms.sender, destination=sms.to.lstrip("+"),
                                             short_message=payload, data_coding=data_coding,
                                             esm_class=esm_class, registered_delivery=1)
            except (TimeoutError, SmppConnectionError) as exc:
                log.warning("provider %s: submit of message %s interrupted (%s); retrying", self.name, sms.id, exc)
                status = 0x08
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            status = result.status
            if status == 0 and result.message_id:
                return 0, result.message_id
            if status not in TEMPORARY:
                return status, None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        return status, None

    async def _on_deliver(self, deliver: DeliverSm) -> None:
        receipt = receipt_from_deliver(deliver)
        if receipt is not None:
            await self.sink.receipt(self.provider_id, receipt)
            return
        body = deliver.message_payload or deliver.short_message
        if deliver.esm_class & 0x40:
            split = split_udh(body)
            body = split[3] if split else body
        text = encoding.decode(body, deliver.data_coding)
        await self.sink.inbound(self.provider_id, InboundSms(deliver.source_addr, deliver.destination_addr, text))

    async def stop(self) -> None:
        self._stopping = True
        self._keeper.cancel()
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)

    def status(self) -> dict[str, Any]:
        return {"binds_up": sum(c.bound for c in self.clients), "binds": len(self.clients),
                "in_flight": sum(c.in_flight for c in self.clients)}
