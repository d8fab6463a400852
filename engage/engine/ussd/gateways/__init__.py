"""USSD gateway kinds: each is one module that registers itself in KINDS (Africa's Talking and
Hubtel over HTTP, SMPP on a provider's binds). Importing this package registers them all."""

from engage.engine.ussd.gateways import africastalking as _africastalking  # noqa: F401  (registers "africastalking")
from engage.engine.ussd.gateways import hubtel as _hubtel  # noqa: F401  (registers "hubtel")
from engage.engine.ussd.gateways import smpp as _smpp  # noqa: F401  (registers "smpp")
from engage.engine.ussd.gateways.base import (
    KINDS,
    BadGatewayRequest,
    Gateway,
    GatewayKind,
    GatewayReply,
    GatewayRequest,
)

__all__ = ["KINDS", "BadGatewayRequest", "Gateway", "GatewayKind", "GatewayReply", "GatewayRequest"]
