"""One hop through an HTTP gateway, from the request the web app received to the reply it sends:
the kind reads the request into a hop (400 naming the field when it cannot), the engine takes one
step, the kind writes the screen in the gateway's format. Blocking (the engine's transaction):
the web app runs it off its event loop."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from engage.engine.ussd import sessions
from engage.engine.ussd.dialog import UssdError, step
from engage.engine.ussd.gateways.base import KINDS, BadGatewayRequest, Gateway, GatewayReply, GatewayRequest

__all__ = ["serve_hop"]

log = logging.getLogger(__name__)


def serve_hop(engine: Engine, gateway: Gateway, request: GatewayRequest) -> GatewayReply:
    kind = KINDS[gateway.kind]
    try:
        hop = kind.read(gateway, request)
    except BadGatewayRequest as exc:
        log.info("USSD gateway %s: bad %s request: %s", gateway.name, gateway.kind, exc)
        return kind.refusal(400, f"bad {gateway.kind} request to USSD gateway {gateway.name}: {exc}")
    if isinstance(hop, GatewayReply):
        if hop.released is not None:  # the subscriber hung up or the network let go: the session ends now
            with engine.begin() as conn:
                sessions.end(conn, gateway.id, *hop.released)
        return hop
    try:
        screen = step(engine, hop)
    except UssdError as exc:
        log.info("USSD gateway %s: hop refused: %s", gateway.name, exc)
        return kind.refusal(400, f"USSD gateway {gateway.name}: {exc}")
    return kind.answer(screen)
