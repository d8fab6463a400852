"""What every provider kind offers the sender, whatever protocol it speaks."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from engage.engine.smpp.receipts_text import Receipt


@dataclass(frozen=True)
class OutboundSms:
    id: int
    to: str
    sender: str
    text: str


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


class DeliverySink(Protocol):
    """Where receipts and MO messages go; awaited before the provider is acknowledged."""

    async def receipt(self, provider_id: int, receipt: Receipt) -> None: ...

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


class ProviderConnection(ABC):
    kind: ClassVar[str]

    def __init__(self, provider_id: int, name: str, config: dict[str, Any], tps: int, sink: DeliverySink):
        self.provider_id = provider_id
        self.name = name
        self.config = config
        self.tps = tps
        self.sink = sink
        self.stats = ProviderStats()

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

    async def send_batch(self, batch: list[OutboundSms]) -> list[SendOutcome]:
        """Every message's outcome, in order. Kinds that send at high rates override this to
        avoid a task per message; this default sends them all concurrently."""
        return list(await asyncio.gather(*(self.send(sms) for sms in batch)))

    @abstractmethod
    async def stop(self) -> None: ...


KINDS: dict[str, type[ProviderConnection]] = {}


def register(kind: str) -> Callable[[type[ProviderConnection]], type[ProviderConnection]]:
    def add(cls: type[ProviderConnection]) -> type[ProviderConnection]:
        cls.kind = kind
        KINDS[kind] = cls
        return cls

    return add
