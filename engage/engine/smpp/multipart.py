"""Concatenated SMS framing: the UDH way (3GPP TS 23.040 9.2.3.24.1/.8) and the SAR TLV way.

Splitting text into payloads is the encoder's job; this module only frames already-sized
payloads so the handset can reassemble them, and unframes parts arriving from the SMSC.
"""

from __future__ import annotations

__all__ = ["ESM_UDHI", "concat_of", "sar_parts", "split_udh", "udh_parts"]

ESM_UDHI = 0x40  # esm_class bit: short_message starts with a User Data Header

_IEI_CONCAT_8 = 0x00
_IEI_CONCAT_16 = 0x08


def udh_parts(payloads: list[bytes], ref: int, ref_bits: int = 8) -> list[tuple[int, bytes]]:
    """``(esm_class, short_message)`` per part; a lone payload goes out untouched, without UDH."""
    total = _check(payloads)
    if total == 1:
        return [(0, payloads[0])]
    if ref_bits == 8:
        header = bytes([0x05, _IEI_CONCAT_8, 0x03, ref & 0xFF, total])
    elif ref_bits == 16:
        header = bytes([0x06, _IEI_CONCAT_16, 0x04, (ref >> 8) & 0xFF, ref & 0xFF, total])
    else:
        raise ValueError(f"ref_bits must be 8 or 16, not {ref_bits}")
    return [(ESM_UDHI, header + bytes([seq]) + payload) for seq, payload in enumerate(payloads, start=1)]


def sar_parts(payloads: list[bytes], ref: int) -> list[tuple[dict[str, int], bytes]]:
    """``(tlvs, short_message)`` per part for SMSCs that want SAR TLVs instead of a UDH."""
    total = _check(payloads)
    if total == 1:
        return [({}, payloads[0])]
    return [
        (
            {"sar_msg_ref_num": ref & 0xFFFF, "sar_total_segments": total, "sar_segment_seqnum": seq},
            payload,
        )
        for seq, payload in enumerate(payloads, start=1)
    ]


def split_udh(short_message: bytes) -> tuple[int, int, int, bytes] | None:
    """``(ref, total, seq, body)`` when the UDH carries a usable concatenation element, else ``None``.

    Other information elements (port addressing, ...) are stepped over; a part whose
    sequence is 0 or beyond the total is ignored, as 23.040 tells receivers to do.
    """
    if not short_message:
        return None
    udhl = short_message[0]
    if udhl + 1 > len(short_message):
        return None
    header, body = short_message[1 : 1 + udhl], short_message[1 + udhl :]
    pos = 0
    while pos + 2 <= len(header):
        iei, length = header[pos], header[pos + 1]
        data = header[pos + 2 : pos + 2 + length]
        pos += 2 + length
        if len(data) != length:
            return None
        if iei == _IEI_CONCAT_8 and length == 3:
            ref, total, seq = data[0], data[1], data[2]
        elif iei == _IEI_CONCAT_16 and length == 4:
            ref, total, seq = (data[0] << 8) | data[1], data[2], data[3]
        else:
            continue
        if total == 0 or not 1 <= seq <= total:
            return None
        return ref, total, seq, body
    return None


def concat_of(
    esm_class: int, short_message: bytes, sar: tuple[int, int, int] | None = None
) -> tuple[tuple[int, int, int] | None, bytes]:
    """``((ref, total, seq) or None, body)`` for an incoming part, whichever way it was framed."""
    if esm_class & ESM_UDHI:
        parts = split_udh(short_message)
        if parts is not None:
            return parts[:3], parts[3]
        return None, short_message
    if sar is not None and sar[1] and 1 <= sar[2] <= sar[1]:
        return sar, short_message
    return None, short_message


def _check(payloads: list[bytes]) -> int:
    if not payloads:
        raise ValueError("no payloads to frame")
    if len(payloads) > 255:
        raise ValueError(f"{len(payloads)} parts: concatenation allows at most 255")
    return len(payloads)
