"""What every USSD gateway kind offers: reading a gateway's request into a hop, and writing a screen
as that gateway's answer. A kind is one module that registers its class here (like the provider
kinds); the web endpoint /ussd/<gateway name> and the SMPP binds find a kind through this
registry, so a new aggregator touches only its own file.

A gateway (a row of ussd_gateways) has a kind, a name, a config, and the hash of the token its
callback carries. Every kind's config may say ``max_chars`` (182 by default: one USSD screen of
GSM-7; 80 for gateways that send UCS-2).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from engage.engine.ussd.dialog import Hop, Screen

__all__ = ["DEFAULT_MAX_CHARS", "KINDS", "BadGatewayRequest", "Gateway", "GatewayKind", "GatewayReply",
           "GatewayRequest", "e164ish", "kind_of", "register", "service_code", "text_field"]

DEFAULT_MAX_CHARS = 182
MAX_CHARS_RANGE = (40, 182)  # dialog.step takes 40 and up; one USSD screen holds 182 GSM-7 characters


class BadGatewayRequest(ValueError):
    """A gateway's request cannot be read: the message names the field and what is wrong with it."""


@dataclass(frozen=True)
class Gateway:
    id: int
    name: str
    kind: str
    config: dict[str, Any]
    token_hash: str  # sha256 hex of the token the gateway's callbacks carry

    @property
    def max_chars(self) -> int:
        return int(self.config.get("max_chars", DEFAULT_MAX_CHARS))


@dataclass(frozen=True)
class GatewayRequest:
    """An aggregator's call to /ussd/<gateway name>, as the web app received it."""

    arguments: Mapping[str, str]  # query and form arguments, the last value of each
    headers: Mapping[str, str]  # case-blind names
    body: bytes


@dataclass(frozen=True)
class GatewayReply:
    """What the web app answers: the gateway's own format."""

    status: int
    content_type: str
    body: bytes
    released: tuple[str, str] | None = None  # (session key, why): the gateway says this session is over


class GatewayKind(ABC):
    kind: ClassVar[str]
    http: ClassVar[bool] = True  # called over HTTP at /ussd/<name>; the SMPP kind comes by binds

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The config as stored, or ValueError naming the bad key."""
        unknown = sorted(set(config) - cls.config_keys())
        if unknown:
            raise ValueError(f"{cls.kind} gateway config: unknown key {unknown[0]!r}; known keys: "
                             f"{', '.join(sorted(cls.config_keys()))}")
        out = dict(config)
        if "max_chars" in out:
            value = out["max_chars"]
            low, high = MAX_CHARS_RANGE
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{cls.kind} gateway config: 'max_chars' must be a whole number from {low} to "
                                 f"{high} (80 for UCS-2 gateways), not {value!r}")
        return out

    @classmethod
    def config_keys(cls) -> set[str]:
        return {"max_chars"}

    @classmethod
    @abstractmethod
    def read(cls, gateway: Gateway, request: GatewayRequest) -> Hop | GatewayReply:
        """The hop this request is, or a reply to give at once without one (a session the gateway
        says is over); BadGatewayRequest naming the field for anything unreadable."""

    @classmethod
    @abstractmethod
    def answer(cls, screen: Screen) -> GatewayReply:
        """The screen in the gateway's format."""

    @classmethod
    def refusal(cls, status: int, reason: str) -> GatewayReply:
        """An error in a form the gateway's operators can read: JSON ``{"error": ...}`` by default."""
        return GatewayReply(status, "application/json; charset=UTF-8", json.dumps({"error": reason}).encode())


KINDS: dict[str, type[GatewayKind]] = {}


def register(kind: str) -> Callable[[type[GatewayKind]], type[GatewayKind]]:
    def add(cls: type[GatewayKind]) -> type[GatewayKind]:
        cls.kind = kind
        KINDS[kind] = cls
        return cls

    return add


def kind_of(name: str) -> type[GatewayKind] | None:
    return KINDS.get(name)


def e164ish(number: str) -> str:
    """A subscriber's number as a gateway gave it, with the "+" an international number in digits
    lacks ("233244123456" -> "+233244123456"); anything else unchanged, for the engine to judge."""
    number = number.strip()
    digits = number[1:] if number.startswith("+") else number
    if digits.isdigit() and len(digits) >= 9 and not digits.startswith("0"):
        return "+" + digits
    return number


def text_field(arguments: Mapping[str, Any], name: str, *, required: bool = True, limit: int = 200,
               where: str = "") -> str | None:
    """One text field of a request: absent (None, or BadGatewayRequest when required), too long,
    or with control characters is an error naming the field."""
    value = arguments.get(name)
    if value is None:
        if required:
            raise BadGatewayRequest(f"{where}field {name!r} is missing")
        return None
    if not isinstance(value, str):
        raise BadGatewayRequest(f"{where}field {name!r} must be text, not {type(value).__name__}")
    if len(value) > limit:
        raise BadGatewayRequest(f"{where}field {name!r} is {len(value)} characters long; at most {limit}")
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value) or "\x7f" in value:
        raise BadGatewayRequest(f"{where}field {name!r} holds a control character")
    return value


def service_code(code: str, field: str) -> str:
    """A dialled code as menus are keyed: "*123#", "#100#" (a gateway may drop the "*" and the
    "#": "123", "711*2")."""
    code = code.strip()
    if not code:
        raise BadGatewayRequest(f"field {field!r} is empty: no service code")
    lead = code[0] if code[0] in "*#" else "*"
    core = code.removeprefix(lead).removesuffix("#")
    if not core or not all(c.isdigit() or c == "*" for c in core):
        raise BadGatewayRequest(f"field {field!r}: {code[:40]!r} is not a USSD service code like *123#")
    return f"{lead}{core}#"
