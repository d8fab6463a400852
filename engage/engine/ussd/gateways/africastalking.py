"""Africa's Talking: a form POST per hop (sessionId, serviceCode, phoneNumber, networkCode, text),
answered in text/plain starting "CON " (a screen that waits for an answer) or "END " (the last).

``text`` is the whole path of the session's answers joined by "*" ("" when the session opens,
then "1", "1*2", "1*2*3"), so the latest answer is what the path adds beyond the path of the
session's previous hop, which is that hop's replay key (ussd_sessions.last_request), read by the
engine under the session's lock in the hop's own transaction (Hop.answer_after). Knowing it
matters for an answer that holds a "*" itself; for a session engage has not seen, the latest
answer is the path's last step. A request whose path is the previous one again is a replay: the
engine answers it with the same screen and changes nothing.
"""

from __future__ import annotations

import functools
import hashlib

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

__all__ = ["AfricasTalking", "path_key"]

PLAIN = "text/plain; charset=UTF-8"
_KEY = "at:"  # a replay key that is the path itself
_HASHED = "at#"  # a path too long for the key's column: its digest
_KEY_ROOM = 120  # ussd_sessions.last_request holds 128


def path_key(path: str) -> str:
    """The replay key of a path: the path, or its SHA-256 when it is too long to keep whole."""
    if len(path) <= _KEY_ROOM:
        return _KEY + path
    return _HASHED + hashlib.sha256(path.encode()).hexdigest()


def previous_path(path: str, last: str | None) -> str | None:
    """The path of the session's previous hop, read from its replay key; None when unknown."""
    if last is None:
        return None
    if last.startswith(_KEY):
        return last[len(_KEY):]
    if last.startswith(_HASHED):  # which of the path's prefixes hashes to it
        for cut in [len(path), *(i for i, c in enumerate(path) if c == "*")]:
            if path_key(path[:cut]) == last:
                return path[:cut]
    return None


def latest_answer(path: str, previous: str | None) -> str:
    """What ``path`` adds to ``previous``; without a previous path that it extends, its last step."""
    if previous is not None and previous != path:
        if previous == "":
            return path
        if path.startswith(previous + "*"):
            return path[len(previous) + 1:]
    return path.rsplit("*", 1)[-1]


def _answer_after(path: str, last: str | None) -> str:
    return latest_answer(path, previous_path(path, last))


@register("africastalking")
class AfricasTalking(GatewayKind):
    @classmethod
    def read(cls, gateway: Gateway, request: GatewayRequest) -> Hop | GatewayReply:
        args = request.arguments
        session_id = text_field(args, "sessionId", limit=120) or ""
        if not session_id.strip():
            raise BadGatewayRequest("field 'sessionId' is empty")
        code = service_code(text_field(args, "serviceCode", limit=32) or "", "serviceCode")
        phone = (text_field(args, "phoneNumber", limit=32) or "").strip()
        if not phone:
            raise BadGatewayRequest("field 'phoneNumber' is empty")
        text_field(args, "networkCode", required=False, limit=16)
        path = text_field(args, "text", required=False, limit=4000) or ""
        answer, after = None, None
        if path:
            # a path without "*" is the first answer (or that hop again): no need to look back
            answer = path if "*" not in path else latest_answer(path, None)
            after = functools.partial(_answer_after, path) if "*" in path else None
        return Hop(gateway_id=gateway.id, session_key=session_id, msisdn=e164ish(phone), code=code, answer=answer,
                   replay_key=path_key(path), max_chars=gateway.max_chars, answer_after=after)

    @classmethod
    def answer(cls, screen: Screen) -> GatewayReply:
        return GatewayReply(200, PLAIN, (("END " if screen.ends else "CON ") + screen.text).encode())

    @classmethod
    def refusal(cls, status: int, reason: str) -> GatewayReply:
        """Plain text, as Africa's Talking shows a callback's answer in its logs."""
        return GatewayReply(status, PLAIN, reason.encode())
