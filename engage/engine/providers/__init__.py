"""Provider kinds: each kind is one module that registers itself in KINDS, and both sends and
receives (its callbacks' reader, or its binds' receipts). Importing this package registers them all."""

from engage.engine.providers import http_json as _http_json  # noqa: F401  (registers "http_json")
from engage.engine.providers import kannel as _kannel  # noqa: F401  (registers "kannel")
from engage.engine.providers import smpp as _smpp  # noqa: F401  (registers "smpp")
from engage.engine.providers.base import (
    KINDS,
    CallbackRequest,
    DeliverySink,
    InboundSms,
    MalformedCallback,
    OutboundSms,
    ProviderConnection,
    SendOutcome,
    callback_kind,
)

__all__ = ["KINDS", "CallbackRequest", "DeliverySink", "InboundSms", "MalformedCallback", "OutboundSms",
           "ProviderConnection", "SendOutcome", "callback_kind"]
