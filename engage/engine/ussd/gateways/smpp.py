"""USSD over SMPP: the gateway kind whose hops come on an SMPP provider's binds, not over HTTP.

The send worker, which holds the binds, gives each SMPP provider an :class:`SmppHops` as its
``on_ussd``: a USSD deliver_sm, read by :mod:`engage.engine.smpp.ussd_ops`, becomes a hop of the
gateway whose config names that provider (``engage ussd gateway add --kind smpp --provider P``),
runs through the engine on a thread of its own (``step`` blocks on the database), and its screen
goes back on the provider's bind (:mod:`engage.engine.providers.smpp.ussd`).

The session key is the subscriber's address and the session number its_session_info carries;
an SMSC that sends none has one session per subscriber at a time (USSD allows no more), so the
address alone: a new session's first hop starts the session of that key over. An answer does not
repeat the code dialled, and the engine needs none for it (the session knows its menu): the hop
names the service address instead.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine

from engage.engine.smpp.ussd_ops import UssdRequest, session_number
from engage.engine.ussd.dialog import Hop, Screen, UssdError, step
from engage.engine.ussd.gateways.base import (
    BadGatewayRequest,
    Gateway,
    GatewayKind,
    GatewayReply,
    GatewayRequest,
    e164ish,
    register,
    service_code,
)
from engage.engine.ussd.gateways.records import GatewayDirectory

__all__ = ["NO_GATEWAY", "SmppHops", "SmppUssd", "hop_of", "session_key"]

log = logging.getLogger(__name__)

NO_GATEWAY = "This service is not available now. Please try again later."


def session_key(request: UssdRequest) -> str:
    number = session_number(request.its_session_info)
    return request.source if number is None else f"{request.source}:{number}"


def hop_of(gateway: Gateway, request: UssdRequest) -> Hop:
    """The hop a USSD request is, on ``gateway``."""
    umr = request.user_message_reference
    code = _dialled(request.text) if request.opens else f"*{request.destination.strip('*#')}#"
    return Hop(gateway_id=gateway.id, session_key=session_key(request), msisdn=e164ish(request.source), code=code,
               answer=None if request.opens else request.text,
               replay_key=None if umr is None else f"smpp:{umr}", max_chars=gateway.max_chars)


def _dialled(text: str) -> str:
    """The code as menus are keyed ("123" from an SMSC that strips them is "*123#"); anything else
    as sent, for the engine to judge."""
    try:
        return service_code(text, "short_message")
    except BadGatewayRequest:
        return text


@register("smpp")
class SmppUssd(GatewayKind):
    http = False

    @classmethod
    def config_keys(cls) -> set[str]:
        return {"max_chars", "provider"}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        config = super().validate_config(config)
        provider = config.get("provider")
        if not isinstance(provider, str) or not provider.strip():
            raise ValueError("smpp gateway config: 'provider' (the SMPP provider whose binds carry the hops) is"
                             " required")
        return config

    @classmethod
    def read(cls, gateway: Gateway, request: GatewayRequest) -> Hop | GatewayReply:
        raise BadGatewayRequest(f"gateway {gateway.name} is an SMPP gateway: its hops come on the binds of provider "
                                f"{gateway.config.get('provider')}, not over HTTP")

    @classmethod
    def answer(cls, screen: Screen) -> GatewayReply:
        raise NotImplementedError("an SMPP screen is answered on the provider's bind (SmppHops)")


class SmppHops:
    """The ``on_ussd`` of the send worker's SMPP providers: one pool of threads for every hop."""

    def __init__(self, engine: Engine, *, threads: int = 8, directory: GatewayDirectory | None = None) -> None:
        self.engine = engine
        self.directory = directory or GatewayDirectory(engine)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="engage-ussd-smpp")

    async def __call__(self, provider_id: int, provider_name: str, request: UssdRequest) -> tuple[str, bool]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.serve, provider_name, request)

    def serve(self, provider_name: str, request: UssdRequest) -> tuple[str, bool]:
        """(text, ends) for one hop; blocking."""
        gateway = self.directory.for_provider(provider_name)
        if gateway is None:
            return NO_GATEWAY, True
        try:
            screen = step(self.engine, hop_of(gateway, request))
        except UssdError as exc:  # an answer to a session never opened, garbage: logged, and the phone told
            log.warning("USSD gateway %s: hop from %s refused: %s", gateway.name, request.source, exc)
            return NO_GATEWAY, True
        return screen.text, screen.ends

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
