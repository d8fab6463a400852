"""How one text becomes submit_sm parts: its data coding, its part sizes, and the framing the
provider asked for.

Text that fits GSM 03.38 (extension table included) goes out as the provider's default data
coding: 0 (unpacked GSM septets, the SMSC default alphabet), 1 (IA5/ASCII) or 3 (Latin-1);
when the text does not fit that charset (a "£" for IA5, a "€" for Latin-1) or GSM 03.38 at
all, as UCS-2 (8). Long texts go out in one of four ways:

* ``udh8``: parts of 153 septets / 67 UCS-2 units behind a 6-octet UDH with an 8-bit reference;
* ``udh16``: parts of 152 / 66 behind a 7-octet UDH with a 16-bit reference;
* ``sar``: parts of 153 / 67 with the sar_* TLVs, the SMSC adding the UDH itself;
* ``payload``: the whole text in one message_payload TLV; the SMSC splits it.

A part never ends between an escape and its extension character, nor inside a UTF-16
surrogate pair. Everything here runs at C speed (``str.translate``, byte slicing) because it
runs once per message at the sender's full rate.
"""

from __future__ import annotations

from typing import Any

from engage.engine.smpp.multipart import ESM_UDHI
from engage.engine.sms_encoding import ESCAPE, EXTENSION_DECODE, GSM7_ENCODE, decode_gsm7

__all__ = ["DATA_CODINGS", "MODES", "Part", "decode_text", "gsm7_septets", "plan"]

MODES = ("udh8", "udh16", "sar", "payload")
DATA_CODINGS = {0: None, 1: "ascii", 3: "latin-1"}  # data_coding -> Python codec of what GSM-7 text is sent as
UCS2 = 8
_LIMITS = {"udh8": (153, 67), "udh16": (152, 66), "sar": (153, 67), "payload": (153, 67)}
_SINGLE_SEPTETS, _SINGLE_OCTETS = 160, 140

_GSM_TABLE = {ord(ch): chr(code) for ch, code in GSM7_ENCODE.items()}
_GSM_TABLE.update({ord(ch): chr(ESCAPE) + chr(code) for code, ch in EXTENSION_DECODE.items()})
_GSM_CHARS = frozenset(chr(point) for point in _GSM_TABLE)

# (esm_class, short_message, tlvs or None): what one submit_sm carries.
Part = tuple[int, bytes, dict[str, Any] | None]


def gsm7_septets(text: str) -> bytes | None:
    """Unpacked GSM 03.38 septets (escape pairs for the extension table), or ``None`` if the text
    has a character outside it."""
    if not _GSM_CHARS.issuperset(text):
        return None
    return text.translate(_GSM_TABLE).encode("latin-1")


def plan(text: str, mode: str = "udh8", data_coding: int = 0, ref: int = 0) -> tuple[int, list[Part]]:
    """``(data_coding, parts)`` for one message; ``ref`` tells this message's parts from others'."""
    septets = gsm7_septets(text)
    if septets is not None:
        charset = DATA_CODINGS[data_coding]
        if charset is None:
            return data_coding, _frame(_split_septets(septets, _LIMITS[mode][0]), septets, mode, ref)
        try:
            whole = text.encode(charset)
        except UnicodeEncodeError:
            pass  # GSM text this charset cannot carry: UCS-2 can
        else:
            chunks = _split_septets(septets, _LIMITS[mode][0])
            return data_coding, _frame(_recode(text, chunks, charset), whole, mode, ref)
    octets = text.encode("utf-16-be")
    return UCS2, _frame(_split_ucs2(octets, _LIMITS[mode][1]), octets, mode, ref)


def decode_text(body: bytes, data_coding: int) -> str:
    """The text of an SMS body: 8 UCS-2, 1 IA5 (ASCII), 3 Latin-1, anything else GSM 03.38 unpacked."""
    if data_coding == UCS2:
        return body.decode("utf-16-be", errors="replace")
    if data_coding == 1:
        return body.decode("ascii", errors="replace")
    if data_coding == 3:
        return body.decode("latin-1")
    return decode_gsm7(body)


def _split_septets(septets: bytes, limit: int) -> list[bytes]:
    if len(septets) <= _SINGLE_SEPTETS:
        return [septets]
    out, pos, end = [], 0, len(septets)
    while end - pos > limit:
        cut = pos + limit
        if septets[cut - 1] == ESCAPE:  # only ever the first octet of a pair: keep the pair together
            cut -= 1
        out.append(septets[pos:cut])
        pos = cut
    out.append(septets[pos:])
    return out


def _split_ucs2(octets: bytes, limit_units: int) -> list[bytes]:
    if len(octets) <= _SINGLE_OCTETS:
        return [octets]
    out, pos, end, limit = [], 0, len(octets), limit_units * 2
    while end - pos > limit:
        cut = pos + limit
        if 0xD8 <= octets[cut - 2] <= 0xDB:  # a high surrogate: its low half goes with it
            cut -= 2
        out.append(octets[pos:cut])
        pos = cut
    out.append(octets[pos:])
    return out


def _recode(text: str, chunks: list[bytes], charset: str) -> list[bytes]:
    """The text cut where its septets were cut, each piece in ``charset``: a chunk holds as many
    characters as septets, less one per escape."""
    out, pos = [], 0
    for chunk in chunks:
        count = len(chunk) - chunk.count(ESCAPE)
        out.append(text[pos:pos + count].encode(charset))
        pos += count
    return out


def _frame(payloads: list[bytes], whole: bytes, mode: str, ref: int) -> list[Part]:
    total = len(payloads)
    if total == 1:
        return [(0, payloads[0], None)]
    if mode == "payload":
        return [(0, b"", {"message_payload": whole})]
    if total > 255:
        raise ValueError(f"text needs {total} parts; concatenation allows at most 255")
    if mode == "sar":
        ref16 = ref & 0xFFFF
        return [(0, payload, {"sar_msg_ref_num": ref16, "sar_total_segments": total, "sar_segment_seqnum": seq})
                for seq, payload in enumerate(payloads, start=1)]
    head = (bytes((0x06, 0x08, 0x04, (ref >> 8) & 0xFF, ref & 0xFF, total)) if mode == "udh16"
            else bytes((0x05, 0x00, 0x03, ref & 0xFF, total)))
    return [(ESM_UDHI, head + bytes((seq,)) + payload, None) for seq, payload in enumerate(payloads, start=1)]
