"""An SMPP provider's config: the keys an operator may set, their defaults and their limits.

Checked when a provider is added or edited (``SmppProvider.validate_config``) and again when
a sender starts it, so a typo is reported where it was made, naming the key, and never
reaches a running bind. The password is never part of an error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from engage.engine.smpp.longsms import DATA_CODINGS, MODES

__all__ = ["BIND_MODES", "SmppSettings", "validate"]

BIND_MODES = ("transceiver", "transmitter_receiver")


@dataclass(frozen=True)
class SmppSettings:
    host: str
    system_id: str
    password: str = field(repr=False)
    port: int = 2775
    system_type: str = ""
    service_type: str = ""
    bind_mode: str = "transceiver"  # or "transmitter_receiver": `binds` transmitters + `receiver_binds` receivers
    binds: int = 1  # binds that submit (transceivers or transmitters)
    receiver_binds: int = 1  # only with bind_mode transmitter_receiver
    window: int = 10  # outstanding submit_sm per bind
    enquire_link_interval: float = 30.0  # seconds; 0 turns keep-alives off
    response_timeout: float = 10.0  # seconds for any response, enquire_link_resp included
    source_ton: int | None = None  # None: from the sender (alphanumeric 5/0, +international 1/1, digits 0/1)
    source_npi: int | None = None
    dest_ton: int = 1
    dest_npi: int = 1
    data_coding: int = 0  # what GSM-7 text is sent as: 0 SMSC default (GSM 03.38), 1 IA5/ASCII, 3 Latin-1
    long_messages: str = "udh8"  # udh8 | udh16 | sar | payload
    registered_delivery: int = 1  # 0 none, 1 receipt on success and failure, 2 on failure only
    max_attempts: int = 8  # per part, for temporary errors (timeouts, drops, 0x08, 0x64); throttling is not counted
    # USSD (engine/smpp/ussd_ops.py): the ussd_service_op values this SMSC uses, and the answers' service_type
    ussd_op_open: int = 1  # PSSR indication: a subscriber dialled a code
    ussd_op_answer: int = 18  # USSR confirm: a subscriber answered a screen
    ussd_op_continue: int = 2  # USSR request: a screen that expects an answer
    ussd_op_end: int = 17  # PSSR response: the last screen
    ussd_service_type: str = "USSD"

    def as_config(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_REQUIRED = ("host", "system_id", "password")
_KNOWN = {f.name for f in fields(SmppSettings)}
# key -> (low, high) for integers and seconds
_RANGES: dict[str, tuple[float, float]] = {
    "port": (1, 65535), "binds": (1, 64), "receiver_binds": (1, 64), "window": (1, 10000),
    "source_ton": (0, 6), "source_npi": (0, 18), "dest_ton": (0, 6), "dest_npi": (0, 18),
    "registered_delivery": (0, 31), "max_attempts": (1, 100),
    "enquire_link_interval": (0, 3600), "response_timeout": (0.05, 600),
    "ussd_op_open": (0, 255), "ussd_op_answer": (0, 255), "ussd_op_continue": (0, 255), "ussd_op_end": (0, 255),
}
_FLOATS = {"enquire_link_interval", "response_timeout"}
# C-octet string limits from SMPP 3.4 section 4.1, terminating NUL excluded
_LENGTHS = {"host": 255, "system_id": 15, "password": 8, "system_type": 12, "service_type": 5,
            "ussd_service_type": 5}
_CHOICES: dict[str, tuple[Any, ...]] = {"bind_mode": BIND_MODES, "long_messages": MODES,
                                        "data_coding": tuple(DATA_CODINGS)}


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """The config with every default filled in, or ValueError naming the key that is wrong."""
    if not isinstance(config, dict):
        raise ValueError(f"SMPP config must be a JSON object, not {type(config).__name__}")
    unknown = sorted(set(config) - _KNOWN)
    if unknown:
        raise ValueError(f"unknown SMPP config key {unknown[0]!r}; known keys: {', '.join(sorted(_KNOWN))}")
    missing = [key for key in _REQUIRED if config.get(key) is None]
    if missing:
        raise ValueError(f"SMPP config: {missing[0]!r} is required")
    values = {key: _check(key, value) for key, value in config.items() if value is not None or key in
              ("source_ton", "source_npi")}
    if (values.get("source_ton") is None) != (values.get("source_npi") is None):
        raise ValueError("SMPP config: give source_ton and source_npi together, or neither (automatic)")
    return SmppSettings(**values).as_config()


def _check(key: str, value: Any) -> Any:
    if key in _LENGTHS:
        if not isinstance(value, str):
            raise ValueError(f"SMPP config: {key!r} must be text")
        if key == "host" and not value.strip():
            raise ValueError("SMPP config: 'host' must not be empty")
        if key == "system_id" and not value:
            raise ValueError("SMPP config: 'system_id' must not be empty")
        if len(value) > _LENGTHS[key] or not value.isascii():
            what = "the password" if key == "password" else repr(value)
            raise ValueError(f"SMPP config: {key!r}: {what} must be ASCII of at most {_LENGTHS[key]} characters"
                             " (SMPP 3.4)")
        return value.strip() if key == "host" else value
    if key in _CHOICES:
        choices = _CHOICES[key]
        if key == "data_coding" and isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or value not in choices:
            raise ValueError(f"SMPP config: {key!r} must be one of {', '.join(map(str, choices))}, not {value!r}")
        return value
    if value is None:
        return None
    number = _number(key, value)
    low, high = _RANGES[key]
    if not low <= number <= high:
        raise ValueError(f"SMPP config: {key!r} must be between {low:g} and {high:g}, not {value!r}")
    return number


def _number(key: str, value: Any) -> int | float:
    """Integers (and seconds, which may be fractional); digit strings from a web form are accepted."""
    if not isinstance(value, bool):
        try:
            if key in _FLOATS:
                return float(value)
            if isinstance(value, str):
                return int(value.strip())
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
        except (TypeError, ValueError):
            pass
    kind = "a number of seconds" if key in _FLOATS else "a whole number"
    raise ValueError(f"SMPP config: {key!r} must be {kind}, not {value!r}")
