"""Phone numbers: personal data, stored in E.164, shown masked to roles that need not see them.

Imports validate millions of numbers, and phonenumbers.parse plus is_valid_number costs ~30 µs each;
most numbers in operator files are already international digits, so a fast path reads them itself
(~2 µs). It accepts a number only where parse could not have read it differently (no national
prefix or IDD to strip, no leading zero, no valid reading as a national number of the default
region), and validates it with one regex per calling code built from the same metadata as
is_valid_number (possible lengths, then patterns; for shared calling codes such as +1 and +7, the
same choice of region). Everything else, and every number it does not accept, goes through the full
parse, so both give the same answer."""

from __future__ import annotations

import re
from contextlib import suppress
from functools import cache

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE


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
    if text[:1] == "+":
        return _international(text[1:])
    if text[:2] == "00":
        return _international(text[2:])
    # full_e164 parses bare digits in the default region first, and with a "+" only when longer than 10
    reading = _home_reading(default_region)
    if reading is None or not (11 <= len(text) <= 17 and text.isascii() and text.isdigit()):
        return None
    return reading.e164(text)


def _international(digits: str) -> str | None:
    if not (8 <= len(digits) <= 17 and digits.isascii() and digits.isdigit()):
        return None
    reading = _calling_code(digits[:3])
    return reading.e164(digits) if reading is not None else None


class _Reading:
    """When the full parse reads plain digits as "+" + digits and finds them valid: a regex for the
    calling code and a valid national number (and for what parse would try before), and the national
    prefixes parse would try to strip (pattern, index it applies from). Where one of them could strip
    something, the full parse decides."""

    __slots__ = ("match", "prefixes")

    def __init__(self, pattern: str, prefixes: list[tuple[str | None, int]]) -> None:
        self.match = re.compile(pattern).match
        self.prefixes = tuple((re.compile(prefix), start) for prefix, start in dict.fromkeys(prefixes) if prefix)

    def e164(self, digits: str) -> str | None:
        if self.match(digits) is None:
            return None
        for prefix, start in self.prefixes:
            if _strips(prefix, digits[start:]):
                return None
        return "+" + digits


@cache
def _calling_code(lead: str) -> _Reading | None:
    """The reading of digits that start with `lead` (their first 3) after a "+": parse takes the
    shortest known calling code, and none starts with 0."""
    if lead[:1] == "0":
        return None
    for size in (1, 2, 3):
        cc = int(lead[:size])
        if cc in COUNTRY_CODE_TO_REGION_CODE:
            return _international_reading(cc)
    return None


@cache
def _international_reading(cc: int) -> _Reading:
    """After a "+", parse strips the national prefix of the calling code's main region."""
    size = len(str(cc))
    return _Reading(f"{cc}{_national_number(cc)}", [(_main_metadata(cc).national_prefix_for_parsing, size)])


@cache
def _home_reading(region_code: str) -> _Reading | None:
    """The reading of bare digits in the default region, which full_e164 parses first. parse takes
    them as calling code + national number only when they start with the region's calling code
    (calling codes are prefix-free, so this is the one a "+" would give too) and not with its IDD;
    it may read them as a national number instead where that is valid, as they are or with the
    region's national prefix stripped; it strips that prefix from the national number, and then the
    main region's prefix as after a "+"."""
    metadata = PhoneMetadata.metadata_for_region(region_code.upper(), None) if region_code else None
    if metadata is None:
        return None
    cc, idd = metadata.country_code, metadata.international_prefix
    pattern = (f"(?!{idd})" if idd else "") + f"(?!{_valid_pattern(cc)}){cc}{_national_number(cc)}"
    own, main = metadata.national_prefix_for_parsing, _main_metadata(cc).national_prefix_for_parsing
    size = len(str(cc))
    return _Reading(pattern, [(own, 0), (own, size), (main, size)])


def _main_metadata(cc: int) -> PhoneMetadata:
    """The metadata parse uses for a calling code: its main region's (or the non-geographic entity's)."""
    return PhoneMetadata.metadata_for_region_or_calling_code(cc, COUNTRY_CODE_TO_REGION_CODE[cc][0])


def _strips(national_prefix: re.Pattern[str], number: str) -> bool:
    """Whether parse's _maybe_strip_national_prefix_carrier_code may change the number: its pattern
    matches something, or captures something for a transform rule."""
    found = national_prefix.match(number)
    return found is not None and (found.end() > 0 or found.lastindex is not None)


def _national_number(cc: int) -> str:
    """A valid national number without leading zeros (Italy's: the full parse knows them)."""
    return f"(?!0)(?:{_valid_pattern(cc)})"


_NEVER = "(?!)"


@cache
def _valid_pattern(cc: int) -> str:
    """is_valid_number for the national numbers of a calling code, as one regex to `match`.

    With one region, its patterns decide. With several (+1, +7, +44...), region_code_for_number
    picks the first region whose leading digits match, or, for a region without leading digits,
    whose patterns match; the number is valid if that region's patterns match. So each region is an
    alternative that first rules out the regions before it that have leading digits."""
    regions = COUNTRY_CODE_TO_REGION_CODE[cc]
    if len(regions) == 1:
        return _region_pattern(_main_metadata(cc)) or _NEVER
    alternatives, earlier = [], ""
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region, None)
        if metadata is None:
            continue
        valid = _region_pattern(metadata)
        if metadata.leading_digits is None:
            if valid:
                alternatives.append(earlier + valid)
            continue
        if valid:
            alternatives.append(f"{earlier}(?={metadata.leading_digits}){valid}")
        earlier += f"(?!{metadata.leading_digits})"
    return "|".join(alternatives) or _NEVER


_KINDS = ("fixed_line", "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
          "voicemail")


def _region_pattern(metadata: PhoneMetadata) -> str | None:
    """phonenumbers' _number_type_helper != UNKNOWN: the general desc matches, and so does the desc
    of some number type (mobile first, the commonest; skipped where it is the fixed-line pattern,
    as _number_type_helper does). None when nothing can match."""
    general = _desc_pattern(metadata.general_desc)
    kinds = ("mobile", *_KINDS) if not metadata.same_mobile_and_fixed_line_pattern else _KINDS
    types = [pattern for pattern in (_desc_pattern(getattr(metadata, kind)) for kind in kinds) if pattern]
    if general is None or not types:
        return None
    return f"(?={general})(?:{'|'.join(types)})"


def _desc_pattern(desc: object) -> str | None:
    """phonenumbers' _is_number_matching_desc as a regex anchored at both ends: one of the possible
    lengths, if any are given, then the whole national number pattern. None for a desc that never
    matches (absent, no pattern, or only impossible lengths)."""
    pattern = getattr(desc, "national_number_pattern", None)
    if not pattern:
        return None
    lengths = desc.possible_length  # type: ignore[attr-defined]
    if not lengths:
        return rf"(?:{pattern})\Z"
    sizes = sorted(size for size in set(lengths) if size > 0)
    return rf"(?=(?:{_lengths(sizes)})\Z)(?:{pattern})\Z" if sizes else None


def _lengths(sizes: list[int]) -> str:
    """[6, 7, 8, 10] -> ".{6,8}|.{10}": any characters, as the numbers matched are digits only."""
    runs: list[list[int]] = []
    for size in sizes:
        if runs and runs[-1][1] == size - 1:
            runs[-1][1] = size
        else:
            runs.append([size, size])
    return "|".join(f".{{{low}}}" if low == high else f".{{{low},{high}}}" for low, high in runs)


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


# what a masked number keeps of its start: the '+' and the first VISIBLE_DIGITS digits (country and network
# code, +99890), which is also as far as a role shown masked numbers may select by number
MASK_HEAD = 6
VISIBLE_DIGITS = MASK_HEAD - 1


def mask(e164: str) -> str:
    """+998901234567 -> +99890*****67: enough to tell numbers apart on a call, not to dial them."""
    if len(e164) <= MASK_HEAD:
        return "*" * len(e164)
    return e164[:MASK_HEAD] + "*" * (len(e164) - MASK_HEAD - 2) + e164[-2:]


def mask_in(text: str, e164: str) -> str:
    """``text`` with ``e164`` masked wherever it is written whole: as E.164, as its digits, or as its
    national number (as dialled at home, with or without a trunk prefix). A message that quotes a
    subscriber's number must not show it to whoever is shown it masked. Numbers written with spaces
    or dashes inside are not recognised."""
    forms = [e164, e164.lstrip("+")]
    with suppress(phonenumbers.NumberParseException):
        forms.append(str(phonenumbers.parse(e164).national_number))
    for form in forms:
        if form:
            text = text.replace(form, mask(e164))
    return text
