"""Phone numbers: personal data, stored in E.164, shown masked to roles that need not see them."""

from __future__ import annotations

import phonenumbers


class InvalidNumber(ValueError):
    pass


def to_e164(raw: str, default_region: str) -> str:
    """Parse what people type ("+998 90 123-45-67", "0901234567", "998901234567") into E.164."""
    text = (raw or "").strip()
    if not text:
        raise InvalidNumber("number is empty")
    candidates = [text]
    if text[0].isdigit() and len(text) > 10:
        candidates.append("+" + text)  # international digits without the plus
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, default_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidNumber(f"{raw!r} is not a valid phone number for region {default_region}")


def mask(e164: str) -> str:
    """+998901234567 -> +99890*****67: enough to tell numbers apart on a call, not to dial them."""
    if len(e164) <= 6:
        return "*" * len(e164)
    return e164[:6] + "*" * (len(e164) - 8) + e164[-2:]
