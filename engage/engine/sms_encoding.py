"""SMS text encoding: GSM 03.38 (7-bit default alphabet + extension table) or UCS-2.

Why our own and not smpplib.gsm: the part count is shown to marketing staff as they
type and drives cost, so it must be exact, and a long message must never split an
escape pair (ESC + extension character) or a UTF-16 surrogate pair across parts.
"""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 default alphabet, code point = index.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENSION = {
    "\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F,
    "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65,
}
ESCAPE = 0x1B
GSM7_ENCODE = {ch: code for code, ch in enumerate(_BASIC) if code != ESCAPE}
GSM7_DECODE = {code: ch for ch, code in GSM7_ENCODE.items()}
EXTENSION_DECODE = {code: ch for ch, code in _EXTENSION.items()}

# SMPP data_coding values.
DATA_CODING_GSM7 = 0x00
DATA_CODING_UCS2 = 0x08

SINGLE_LIMIT = {"gsm7": 160, "ucs2": 70}
PART_LIMIT = {"gsm7": 153, "ucs2": 67}  # after a 6-octet concatenation UDH


@dataclass(frozen=True)
class TextInfo:
    """What a text costs to send."""

    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets for gsm7 (escape pairs count 2), UTF-16 code units for ucs2
    parts: int
    non_gsm_chars: str  # the characters that forced UCS-2, in order of first use

    @property
    def data_coding(self) -> int:
        return DATA_CODING_GSM7 if self.encoding == "gsm7" else DATA_CODING_UCS2


_WITHOUT_BASIC_GSM = {ord(ch): None for ch in GSM7_ENCODE}


def _gsm_units(ch: str) -> int:
    if ch in GSM7_ENCODE:
        return 1
    if ch in _EXTENSION:
        return 2
    return 0


def is_gsm7(text: str) -> bool:
    return all(_gsm_units(ch) for ch in text)


def septets_of(text: str) -> int:
    """The GSM-7 septets of a text that is all GSM-7: an extension character (€ [ ] { } ^ ~ \\ |) takes two."""
    return sum(_gsm_units(ch) for ch in text)


def _ucs2_units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def ucs2_units_of(text: str) -> int:
    """The UCS-2 (UTF-16) code units of a text: a character beyond the BMP takes two."""
    return sum(_ucs2_units(ch) for ch in text)


def _count_parts(units: list[int], encoding: str) -> int:
    total = sum(units)
    if total <= SINGLE_LIMIT[encoding]:
        return 1
    return len(_chunk(units, PART_LIMIT[encoding]))


def _chunk(units: list[int], limit: int) -> list[tuple[int, int]]:
    """Split character indexes into [start, end) ranges of at most `limit` units,
    never splitting one character's units."""
    ranges: list[tuple[int, int]] = []
    start, used = 0, 0
    for i, u in enumerate(units):
        if used + u > limit:
            ranges.append((start, i))
            start, used = i, 0
        used += u
    ranges.append((start, len(units)))
    return ranges


def analyse(text: str) -> TextInfo:
    """Encoding, size and part count of a text, as an SMSC will bill it."""
    # The common case, one GSM-7 part, found in C: the dispatcher asks this for every message.
    rest = text.translate(_WITHOUT_BASIC_GSM)
    if all(ch in _EXTENSION for ch in rest) and len(text) + len(rest) <= SINGLE_LIMIT["gsm7"]:
        return TextInfo("gsm7", len(text) + len(rest), 1, "")
    gsm_units = [_gsm_units(ch) for ch in text]
    if all(gsm_units):
        return TextInfo("gsm7", sum(gsm_units), _count_parts(gsm_units, "gsm7"), "")
    seen: dict[str, None] = {}
    for ch, u in zip(text, gsm_units, strict=True):
        if not u:
            seen.setdefault(ch)
    ucs_units = [_ucs2_units(ch) for ch in text]
    return TextInfo("ucs2", sum(ucs_units), _count_parts(ucs_units, "ucs2"), "".join(seen))


def encode_gsm7(text: str) -> bytes:
    """Unpacked GSM 03.38 septets, one per octet, as SMPP data_coding 0 carries them."""
    out = bytearray()
    for ch in text:
        code = GSM7_ENCODE.get(ch)
        if code is not None:
            out.append(code)
        elif ch in _EXTENSION:
            out += bytes((ESCAPE, _EXTENSION[ch]))
        else:
            raise ValueError(f"character {ch!r} is not in the GSM 03.38 alphabet")
    return bytes(out)


def decode_gsm7(data: bytes) -> str:
    out: list[str] = []
    it = iter(data)
    for code in it:
        if code == ESCAPE:
            nxt = next(it, None)
            out.append(EXTENSION_DECODE.get(nxt, " ") if nxt is not None else "")
        else:
            out.append(GSM7_DECODE.get(code, "?"))
    return "".join(out)


def encode(text: str, encoding: str) -> bytes:
    return encode_gsm7(text) if encoding == "gsm7" else text.encode("utf-16-be")


def decode(data: bytes, data_coding: int) -> str:
    """Text of an SMS body; data_coding 8 is UCS-2 (read as UTF-16), 3 Latin-1, else GSM 7-bit."""
    if data_coding == DATA_CODING_UCS2:
        return data.decode("utf-16-be", errors="replace")
    if data_coding == 0x03:
        return data.decode("latin-1")
    return decode_gsm7(data)


def split(text: str, info: TextInfo | None = None) -> list[bytes]:
    """Encoded payloads, one per part, each small enough for a concatenation UDH."""
    info = info or analyse(text)
    return [encode(piece, info.encoding) for piece in split_text(text, info)]


def split_text(text: str, info: TextInfo | None = None) -> list[str]:
    """The text of each part, cut where split() cuts: for a gateway that takes text and frames
    the parts it is given (Kannel's sendsms with a UDH), never between a character's units."""
    info = info or analyse(text)
    if info.parts == 1:
        return [text]
    unit_of = _gsm_units if info.encoding == "gsm7" else _ucs2_units
    return [text[a:b] for a, b in _chunk([unit_of(ch) for ch in text], PART_LIMIT[info.encoding])]
