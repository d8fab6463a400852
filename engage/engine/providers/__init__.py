"""Provider kinds: each kind is one module that registers itself in KINDS."""

from engage.engine.providers import http_json as _http_json  # noqa: F401  (registers "http_json")
from engage.engine.providers import kannel as _kannel  # noqa: F401  (registers "kannel")
from engage.engine.providers import smpp as _smpp  # noqa: F401  (registers "smpp")
from engage.engine.providers.base import (
    KINDS,
    DeliverySink,
    InboundSms,
    OutboundSms,
    ProviderConnection,
    SendOutcome,
)

__all__ = ["KINDS", "DeliverySink", "InboundSms", "OutboundSms", "ProviderConnection", "SendOutcome"]
