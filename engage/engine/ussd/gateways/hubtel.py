"""Hubtel: a JSON POST per hop, answered in JSON.

The request (Hubtel's USSD API): ``Type`` "Initiation" (the subscriber dialled; ``Message`` is
the USSD string dialled, "*714*2#"), "Response" (``Message`` is the subscriber's answer),
"Release" (the subscriber ended the session) or "Timeout" (the network did); ``Mobile`` (the
number, "233244123456"), ``SessionId``, ``ServiceCode`` ("714", "711*2"), ``Operator``,
``Sequence`` (the message's place in the session, from 1) and ``ClientState`` (what an
application asked to have sent back; engage keeps its state itself and asks for none). Type values
are read whatever their case (Hubtel's newer Programmable Services API spells them in lower case).

The answer: ``{"Type": "Response", "Message": ...}`` for a screen that waits for an answer,
``"Release"`` for the last one. A request with the Sequence of the session's previous request is
a replay: the same screen again. Release and Timeout are acknowledged with an empty Release;
the engine's session then ends by idleness, as any unanswered session does.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from engage.engine.ussd.dialog import Hop, Screen
from engage.engine.ussd.gateways.base import (
    BadGatewayRequest,
    Gateway,
    GatewayKind,
    GatewayReply,
    GatewayRequest,
    e164ish,
    register,
    service_code,
    text_field,
)

__all__ = ["Hubtel"]

JSON_TYPE = "application/json; charset=UTF-8"
TYPES = {"initiation": "Initiation", "response": "Response", "release": "Release", "timeout": "Timeout"}
MAX_SEQUENCE = 10_000


def _reply(kind: str, message: str) -> GatewayReply:
    return GatewayReply(200, JSON_TYPE, json.dumps({"Type": kind, "Message": message}, ensure_ascii=False).encode())


def _sequence(body: dict[str, Any]) -> int | None:
    value = body.get("Sequence")
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQUENCE:
        raise BadGatewayRequest(f"field 'Sequence' must be a whole number from 0 to {MAX_SEQUENCE}, not"
                                f" {str(value)[:40]!r}")
    return value


@register("hubtel")
class Hubtel(GatewayKind):
    @classmethod
    def read(cls, gateway: Gateway, request: GatewayRequest) -> Hop | GatewayReply:
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadGatewayRequest(f"the body is not JSON ({exc})") from None
        if not isinstance(body, dict):
            raise BadGatewayRequest(f"the body must be a JSON object, not {type(body).__name__}")
        raw_type = text_field(body, "Type", limit=20) or ""
        kind = TYPES.get(raw_type.strip().lower())
        if kind is None:
            raise BadGatewayRequest(f"field 'Type' must be one of {', '.join(TYPES.values())}, not {raw_type!r}")
        session_id = (text_field(body, "SessionId", limit=120) or "").strip()
        if not session_id:
            raise BadGatewayRequest("field 'SessionId' is empty")
        if kind in ("Release", "Timeout"):
            return replace(_reply("Release", ""), released=(session_id, kind.lower()))
        mobile = (text_field(body, "Mobile", limit=32) or "").strip()
        if not mobile:
            raise BadGatewayRequest("field 'Mobile' is empty")
        message = text_field(body, "Message", required=kind == "Response", limit=500) or ""
        text_field(body, "Operator", required=False, limit=40)
        sequence = _sequence(body)
        if kind == "Initiation":
            dialled = message.strip()
            code = (service_code(dialled, "Message") if dialled.startswith("*")
                    else service_code(text_field(body, "ServiceCode", limit=32) or "", "ServiceCode"))
            answer = None
        else:
            code = service_code(text_field(body, "ServiceCode", limit=32) or "", "ServiceCode")
            answer = message
        return Hop(gateway_id=gateway.id, session_key=session_id, msisdn=e164ish(mobile), code=code, answer=answer,
                   replay_key=None if sequence is None else f"hubtel:{sequence}", max_chars=gateway.max_chars)

    @classmethod
    def answer(cls, screen: Screen) -> GatewayReply:
        return _reply("Release" if screen.ends else "Response", screen.text)
