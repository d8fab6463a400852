"""The fields of a subscriber's message (MO) as every kind's MO callback reader checks them alike:
an address the inbound_messages columns hold, a text kept whatever it holds, a gateway's time.

An MO callback is answered 200 only once its MOs are stored, and a gateway tries again whatever
else it is answered: a value the database cannot hold must be refused here (400, naming the field),
never reach the store and fail it on every retry. A text is the subscriber's, so it is kept: what
PostgreSQL's text cannot hold (NUL, a lone surrogate) becomes U+FFFD, as receipts.inbound_checks
does for the SMPP MOs the broker carries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engage.engine.providers.base import MalformedCallback

MAX_ADDRESS = 32  # inbound_messages.source and .destination
MAX_TEXT = 40_000  # characters: 255 concatenated parts of 153 GSM-7 characters, and some
REPLACEMENT = "\ufffd"


def address(value: Any, field: str) -> str:
    """A sender's or a recipient's address (a number, a short code, an alphanumeric sender id),
    stripped; MalformedCallback when absent, too long or not printable text."""
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise MalformedCallback(f"{field}: missing; it must hold the address (a number or a sender id)")
    text = str(value).strip()
    if len(text) > MAX_ADDRESS:
        raise MalformedCallback(f"{field}: {len(text)} characters; an address has at most {MAX_ADDRESS}")
    if not text.isprintable() or any("\ud800" <= c <= "\udfff" for c in text):
        raise MalformedCallback(f"{field}: {text[:40]!r} holds control or unencodable characters; not an address")
    return text


def text(value: Any, field: str) -> str:
    """The message's text, kept as sent but for what the database cannot hold (see the module's
    docstring); MalformedCallback when it is not text or longer than any SMS."""
    if not isinstance(value, str):
        raise MalformedCallback(f"{field}: missing; it must hold the message's text (\"\" for an empty one)")
    if len(value) > MAX_TEXT:
        raise MalformedCallback(f"{field}: {len(value)} characters; an SMS, however long, has at most {MAX_TEXT}")
    if "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value):
        return "".join(REPLACEMENT if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in value)
    return value


def moment(value: Any, field: str) -> datetime | None:
    """A time the gateway gives (ISO 8601, or Unix seconds as a number or digits), in UTC; None when
    absent; MalformedCallback when it is neither."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.lstrip("-").replace(".", "", 1).isdigit():
                return datetime.fromtimestamp(float(stripped), UTC)
            parsed = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise MalformedCallback(f"{field}: {str(value)[:40]!r} is not a time (ISO 8601, or Unix seconds)")
