"""Sender ids: the "from" of an SMS, checked when a campaign is set up rather than rejected by
the SMSC at send time, and typed the way SMPP needs (source_addr_ton / source_addr_npi).

Three kinds:
- alphanumeric ("Beeline", "Shop & Co"): 1-11 characters, because the 7-bit TP-OA field holds 11;
  letters of the GSM 03.38 basic set, digits, space and . - _ & ' (what handsets and operators
  show reliably); at least one letter, or it would read as a number. TON 5 (alphanumeric), NPI 0.
- short code ("7777"): 3-8 digits. TON 3 (network specific), NPI 0: a short code is only
  meaningful inside its network.
- long number ("+998 90 123 45 67", or a national form read in ``region``): valid per
  phonenumbers, sent as international digits without '+'. TON 1 (international), NPI 1 (E.164).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from engage.engine.sms_encoding import GSM7_ENCODE

ALPHANUMERIC, SHORT_CODE, LONG_NUMBER = "alphanumeric", "short_code", "long_number"
MAX_ALPHANUMERIC = 11
SHORT_CODE_DIGITS = (3, 8)
_PUNCTUATION = " .-_&'"
_LETTERS = frozenset(ch for ch in GSM7_ENCODE if ch.isalpha())
_ALLOWED = _LETTERS | frozenset("0123456789") | frozenset(_PUNCTUATION)
_TYPE = {ALPHANUMERIC: (5, 0), SHORT_CODE: (3, 0), LONG_NUMBER: (1, 1)}  # kind -> (TON, NPI)


class SenderIdError(ValueError):
    """A sender id that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class SenderId:
    value: str  # as it goes into source_addr
    kind: str  # alphanumeric | short_code | long_number
    ton: int
    npi: int

    def __str__(self) -> str:
        return self.value


def parse_sender(value: str, *, region: str = "UZ") -> SenderId:
    """Check a sender id and tell its kind; raises SenderIdError saying why it cannot be used."""
    text = (value or "").strip()
    if not text:
        raise SenderIdError("sender id is empty")
    if any(ch in _LETTERS for ch in text):
        return _alphanumeric(text)
    if text.isascii() and text.isdigit() and len(text) <= SHORT_CODE_DIGITS[1]:
        if len(text) < SHORT_CODE_DIGITS[0]:
            raise SenderIdError(f"sender id {text!r}: short codes have {SHORT_CODE_DIGITS[0]} to "
                                f"{SHORT_CODE_DIGITS[1]} digits")
        return SenderId(text, SHORT_CODE, *_TYPE[SHORT_CODE])
    return _long_number(text, region)


def _alphanumeric(text: str) -> SenderId:
    if len(text) > MAX_ALPHANUMERIC:
        raise SenderIdError(f"sender id {text!r}: alphanumeric sender ids have at most {MAX_ALPHANUMERIC} "
                            f"characters")
    bad = [ch for ch in text if ch not in _ALLOWED]
    if bad:
        raise SenderIdError(f"sender id {text!r}: {bad[0]!r} is not allowed; alphanumeric sender ids use "
                            f"letters, digits, space and {' '.join(_PUNCTUATION.strip())}")
    return SenderId(text, ALPHANUMERIC, *_TYPE[ALPHANUMERIC])


def _long_number(text: str, region: str) -> SenderId:
    why = f"sender id {text!r}: neither a short code ({SHORT_CODE_DIGITS[0]}-{SHORT_CODE_DIGITS[1]} digits) " \
          f"nor a valid phone number"
    if any(ch.isalpha() for ch in text):  # letters outside the GSM alphabet ("Магазин")
        raise SenderIdError(f"sender id {text!r}: alphanumeric sender ids use letters of the GSM 03.38 "
                            f"alphabet (Latin), digits, space and {' '.join(_PUNCTUATION.strip())}")
    try:
        number = phonenumbers.parse(text, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        raise SenderIdError(why) from None
    if not phonenumbers.is_valid_number(number):
        raise SenderIdError(why)
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    return SenderId(digits, LONG_NUMBER, *_TYPE[LONG_NUMBER])
