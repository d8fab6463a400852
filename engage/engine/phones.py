"""Phone numbers: personal data, stored in E.164, shown masked to roles that need not see them.

Imports validate millions of numbers, and phonenumbers.parse costs ~26 µs each; most numbers in
operator files are already international digits, so a fast path builds the PhoneNumber directly
and only asks is_valid_number (~5 µs). It accepts a number only where parse could not have read
it differently (no national prefix or IDD to strip, no leading zero); everything else, and every
number it does not accept, goes through the full parse, so both give the same answer."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, is_valid_number
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, region_code_for_country_code


class InvalidNumber(ValueError):
    pass


def to_e164(raw: str, default_region: str) -> str:
    """Parse what people type ("+998 90 123-45-67", "0901234567", "998901234567", "00998...") into E.164."""
    text = (raw or "").strip()
    if not text:
        raise InvalidNumber("number is empty")
    return fast_e164(text, default_region) or full_e164(text, default_region)


def fast_e164(text: str, default_region: str) -> str | None:
    """E.164 for plain international digits ("+998901234567", "00998...", "998901234567"), or None
    when the full parse must decide."""
    if text[0] == "+":
        digits, international = text[1:], True
    elif text.startswith("00"):
        digits, international = text[2:], True
    else:
        digits, international = text, False
    if not digits.isascii() or not digits.isdigit() or not 8 <= len(digits) <= 17:
        return None
    if not international:
        region = _region(default_region)
        if len(digits) < 11 or region is None or not digits.startswith(region.cc):
            return None
        if region.idd.match(digits) or region.general.fullmatch(digits):
            return None  # parse would read an IDD, or may take the digits as a national number
    for size in (1, 2, 3):
        cc = int(digits[:size])
        if cc in COUNTRY_CODE_TO_REGION_CODE:
            return _valid(cc, digits[size:])
    return None


def _valid(cc: int, nsn: str) -> str | None:
    if not nsn or nsn[0] == "0":
        return None  # leading zeros (Italy) and national prefixes: the full parse knows them
    prefix = _national_prefix(cc)
    if prefix is not None:
        found = prefix.match(nsn)
        if found and found.end() > 0:
            return None
    check = _validity(cc)
    if check(nsn) if check else is_valid_number(PhoneNumber(country_code=cc, national_number=int(nsn))):
        return f"+{cc}{nsn}"
    return None


_KINDS = ("mobile", "fixed_line", "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
          "uan", "voicemail")


@cache
def _validity(cc: int) -> Callable[[str], bool] | None:
    """is_valid_number for a calling code of one region, with its patterns compiled once and mobile
    tried first: valid = the general pattern and any number type's pattern match (phonenumbers'
    _number_type_helper != UNKNOWN). None where several regions share the code (+1, +7): phonenumbers
    then picks the region first."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(cc, ())
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(cc, regions[0]) if len(regions) == 1 else None
    if metadata is None:
        return None
    general = _matcher(metadata.general_desc)
    kinds = [m for m in (_matcher(getattr(metadata, kind)) for kind in _KINDS) if m is not None]
    if general is None:
        return lambda nsn: False
    return lambda nsn: general(nsn) and any(kind(nsn) for kind in kinds)


def _matcher(desc: object) -> Callable[[str], bool] | None:
    """phonenumbers' _is_number_matching_desc: possible lengths first, then the whole pattern."""
    pattern = getattr(desc, "national_number_pattern", None)
    if not pattern:
        return None
    lengths = frozenset(desc.possible_length or ())  # type: ignore[attr-defined]
    fullmatch = re.compile(pattern).fullmatch
    if lengths:
        return lambda nsn: len(nsn) in lengths and fullmatch(nsn) is not None
    return lambda nsn: fullmatch(nsn) is not None


class _Region:
    def __init__(self, metadata: PhoneMetadata) -> None:
        self.cc = str(metadata.country_code)
        self.idd = re.compile(metadata.international_prefix or "(?!)")
        self.general = re.compile(metadata.general_desc.national_number_pattern or "(?!)")


@cache
def _region(region_code: str) -> _Region | None:
    metadata = PhoneMetadata.metadata_for_region(region_code.upper(), None)
    return _Region(metadata) if metadata is not None else None


@cache
def _national_prefix(cc: int) -> re.Pattern[str] | None:
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(cc, region_code_for_country_code(cc))
    if metadata is None or not metadata.national_prefix_for_parsing:
        return None
    return re.compile(metadata.national_prefix_for_parsing)


def full_e164(text: str, default_region: str) -> str:
    """The full phonenumbers parse: national formats, spaces, punctuation, national prefixes."""
    candidates = [text]
    if text.startswith("00") and text[2:].isdigit():
        candidates.insert(0, "+" + text[2:])  # "00" is the international prefix almost everywhere
    elif text[0].isdigit() and len(text) > 10:
        candidates.append("+" + text)  # international digits without the plus
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, default_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidNumber(f"{text!r} is not a valid phone number for region {default_region}")


def mask(e164: str) -> str:
    """+998901234567 -> +99890*****67: enough to tell numbers apart on a call, not to dial them."""
    if len(e164) <= 6:
        return "*" * len(e164)
    return e164[:6] + "*" * (len(e164) - 8) + e164[-2:]
