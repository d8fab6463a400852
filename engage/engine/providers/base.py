"""What every provider kind offers: the sender's side (start, send, stop) and, for a kind whose
gateway calls engage back over HTTP, the reading of those callbacks. A kind is one module that
registers its class here; the web app finds a callback's reader through this registry, so a new
kind touches only its own files."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from engage.engine.providers.common_settings import kind_config
from engage.engine.smpp.receipts_text import DeliveryReport


@dataclass(frozen=True)
class OutboundSms:
    id: int
    to: str
    sender: str
    text: str
    campaign_id: int | None = None  # what a gateway may account the message to (Kannel's account)
    valid_until: datetime | None = None  # the campaign run's deadline: a validity for the SMSC, if any
    always: bool = False  # a keyword's confirmation: no hold on recent opt-outs keeps it (delivery/opt_outs.py)


@dataclass
class SendOutcome:
    message_id: int
    part_ids: list[str] = field(default_factory=list)  # provider's ids, one per part, in order
    error: str | None = None  # provider's code when the message could not be sent

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class InboundSms:
    source: str
    destination: str
    text: str


class MalformedCallback(ValueError):
    """A gateway's callback cannot be read; the message says which field and why."""


@dataclass(frozen=True)
class CallbackRequest:
    """A gateway's call to /callbacks/<callback name>/<provider id>, as the web app received it."""

    method: str  # GET or POST
    arguments: Mapping[str, str]  # query and form arguments: the last value of each, control characters as spaces
    headers: Mapping[str, str]  # case-blind names
    body: bytes
    # the same arguments as sent, percent-decoded but not decoded as UTF-8: a subscriber's text in a
    # charset of the gateway's own (Kannel's %b, UTF-16BE for a UCS-2 MO)
    raw_arguments: Mapping[str, bytes] = field(default_factory=dict)


class DeliverySink(Protocol):
    """Where receipts and MO messages go; awaited before the provider is acknowledged."""

    async def receipt(self, provider_id: int, receipt: DeliveryReport) -> None: ...

    async def inbound(self, provider_id: int, sms: InboundSms) -> None: ...


@dataclass
class ProviderStats:
    """Counters a provider kind keeps as it sends; read for `engage provider status`, the
    router's health and /metrics. Only ever incremented, from the provider's event loop."""

    submitted_parts: int = 0
    throttled: int = 0  # ESME_RTHROTTLED / ESME_RMSGQFUL / HTTP 429 answers
    temporary_errors: int = 0  # retried: timeouts, dropped connections, 5xx, temporary SMPP codes
    permanent_errors: int = 0  # messages failed with the provider's code
    reconnects: int = 0
    # retries after a failure the provider may have taken the request in (a connection reset or a
    # timeout once it was sent): each may have sent the message twice
    possible_duplicates: int = 0


class ProviderConnection(ABC):
    kind: ClassVar[str]
    # The <callback name> of /callbacks/<callback name>/<provider id> where this kind's gateways
    # send receipts, and the HTTP methods they use; None for a kind that receives some other way
    # (SMPP receives over its binds).
    callback_name: ClassVar[str | None] = None
    callback_methods: ClassVar[frozenset[str]] = frozenset({"POST"})
    # The methods of /callbacks/<callback name>/<provider id>/mo, where the kind's gateways send the
    # subscribers' own messages (MOs); none for a kind that takes no MO callbacks.
    inbound_methods: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, provider_id: int, name: str, config: dict[str, Any], tps: int | None, sink: DeliverySink):
        self.provider_id = provider_id
        self.name = name
        self.config = kind_config(config)  # the settings every kind has (receipt_timeout) are not its own
        self.tps = tps  # parts/s configured, or None: the kind finds the rate the provider accepts
        self.sink = sink
        self.stats = ProviderStats()
        # Asked right before each message is sent: a reason not to send it after all (the recipient
        # texted STOP since its batch was claimed: delivery/opt_outs.py), or None. Set by the sender.
        self.hold: Callable[[OutboundSms], str | None] | None = None

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The config as stored, or ValueError naming the bad field: checked when a provider is
        added or updated, so a typo never reaches a running sender."""
        return config

    def status(self) -> dict[str, Any]:
        """Live figures for `engage provider status`: binds_up, binds, in_flight, window, healthy."""
        return {"binds_up": 1, "binds": 1, "in_flight": 0, "window": 0, "healthy": True}

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def send(self, sms: OutboundSms) -> SendOutcome: ...

    async def send_unless_held(self, sms: OutboundSms) -> SendOutcome:
        """``send``, unless ``hold`` gives a reason not to: then the outcome is that reason, unsent."""
        hold = self.hold
        why = hold(sms) if hold is not None else None
        return SendOutcome(sms.id, error=why) if why else await self.send(sms)

    async def send_batch(self, batch: list[OutboundSms],
                         settle: Callable[[SendOutcome], Awaitable[object]] | None = None) -> list[SendOutcome]:
        """Every message's outcome, in order, each handed to ``settle`` (the sender records it)
        as soon as it is known. Kinds that send at high rates override this to avoid a task per
        message; this default sends them all concurrently."""
        async def one(sms: OutboundSms) -> SendOutcome:
            outcome = await self.send_unless_held(sms)
            if settle is not None:
                await settle(outcome)
            return outcome

        return list(await asyncio.gather(*(one(sms) for sms in batch)))

    @abstractmethod
    async def stop(self) -> None: ...

    @classmethod
    def parse_callback(cls, config: dict[str, Any], request: CallbackRequest) -> list[dict[str, Any]]:
        """The receipts a callback holds, each {"id": the provider's message id, "stat": a receipt
        stat word, "err": the gateway's error code or None, "done_at": ISO time or None}; or
        MalformedCallback naming the bad field. ``config`` is the provider's stored config; the
        caller has already checked its callback token. Kinds with a callback_name override this."""
        raise NotImplementedError(f"provider kind {cls.kind} declares no callback reader")

    @classmethod
    def parse_inbound(cls, config: dict[str, Any], request: CallbackRequest) -> list[dict[str, Any]]:
        """The MOs an MO callback holds, each {"source", "destination", "text"} ready to store (see
        providers.inbound_fields); or MalformedCallback naming the field and the item. Kinds with
        inbound_methods override this."""
        raise NotImplementedError(f"provider kind {cls.kind} declares no MO callback reader")

    @classmethod
    def inbound_answer(cls, stored: int) -> tuple[str, bytes]:
        """(Content-Type, body) of the 200 to an MO callback once its MOs are stored. The gateway
        may read the body as something to do (Kannel sends it to the subscriber as a reply)."""
        return "application/json; charset=UTF-8", b'{"stored": %d}' % stored


KINDS: dict[str, type[ProviderConnection]] = {}


def register(kind: str) -> Callable[[type[ProviderConnection]], type[ProviderConnection]]:
    def add(cls: type[ProviderConnection]) -> type[ProviderConnection]:
        cls.kind = kind
        KINDS[kind] = cls
        return cls

    return add


def callback_kind(callback_name: str) -> type[ProviderConnection] | None:
    """The kind whose gateways call /callbacks/<callback_name>/..., or None when no kind does."""
    return next((cls for cls in KINDS.values() if cls.callback_name == callback_name), None)
