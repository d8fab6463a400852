"""What the SMSC simulator keeps of each accepted submit_sm, and the messages those parts make.

Parts are recorded as they arrive, cheaply: as plain tuples (:data:`Row`), which cost less to
make than objects and which the garbage collector stops tracking, so a million-message run does
not leave a million objects for every full collection to walk. Turning them into
:class:`Received` parts and texts (reassembling UDH, SAR and message_payload messages, decoding
GSM 03.38 / IA5 / Latin-1 / UCS-2) happens only when a test or the demo asks, so the
simulator's hot path stays short.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from engage.engine.smpp.longsms import decode_text
from engage.engine.smpp.multipart import ESM_UDHI, split_udh

__all__ = ["Received", "Row", "SimMessage", "SubmitLog", "parts", "reassemble"]


@dataclass(slots=True)
class Received:
    message_id: str
    system_id: str
    source: str
    destination: str
    data_coding: int
    short_message: bytes  # as submitted, UDH included; the message_payload TLV when that carried the text
    esm_class: int
    concat: tuple[int, int, int] | None  # (ref, total, seq) from the UDH or the SAR TLVs
    at: float
    body: bytes = b""  # short_message without its UDH: this part's share of the text
    framing: str = "single"  # "single" | "udh" | "sar" | "payload"


@dataclass(frozen=True)
class SimMessage:
    """A whole message as a handset would show it: its parts put back together."""

    system_id: str
    source: str
    destination: str
    text: str
    message_ids: tuple[str, ...]  # the part ids, in part order
    framing: str


# A Received's fields, in its order: (message_id, system_id, source, destination, data_coding,
# short_message, esm_class, concat, at, body, framing), the addresses still the bytes the PDU carried
# (a receipt sends them back as they came).
Row = tuple[str, str, bytes, bytes, int, bytes, int, tuple[int, int, int] | None, float, bytes, str]


def parts(rows: list[Row]) -> list[Received]:
    """Logged rows as :class:`Received` parts."""
    return [Received(message_id, system_id, source.decode("latin-1"), destination.decode("latin-1"), *rest)
            for message_id, system_id, source, destination, *rest in rows]


class SubmitLog:
    """Every accepted part, and how often each (destination, text, position in its message) came.

    Touched only from the simulator's event loop; readers get copies through the simulator.
    """

    def __init__(self) -> None:
        self.rows: list[Row] = []  # every accepted part, in arrival order
        self.receipt_stats: dict[str, str] = {}  # message id -> stat of the receipt it was given
        self._copies: Counter[tuple[Any, ...]] = Counter()
        self._key_of: dict[str, tuple[Any, ...]] = {}

    def record(self, system_id: str, message_id: str, pdu: Any) -> Row:
        """Keep an accepted submit_sm (a decoded PDU), its concatenation read from UDH, SAR or payload."""
        esm_class, data_coding = pdu.esm_class, pdu.data_coding
        short_message, concat, framing = pdu.short_message, None, "single"
        body = short_message
        if not short_message and pdu.message_payload is not None:
            short_message = body = pdu.message_payload
            framing = "payload"
        elif esm_class & ESM_UDHI:
            split = split_udh(short_message)
            if split is not None:
                concat, body, framing = split[:3], split[3], "udh"
        elif pdu.sar_total_segments and pdu.sar_segment_seqnum and pdu.sar_msg_ref_num is not None:
            concat, framing = (pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum), "sar"
        destination = pdu.destination_addr
        row = (message_id, system_id, pdu.source_addr, destination, data_coding, short_message, esm_class, concat,
               time.time(), body, framing)
        self.rows.append(row)
        key = (destination, data_coding, body, concat[1:] if concat else None)
        self._copies[key] += 1
        self._key_of[message_id] = key
        return row

    def duplicates(self) -> dict[str, int]:
        """message id -> times its (destination, text, position) was accepted, for those accepted more than once."""
        repeated = {key for key, n in self._copies.items() if n > 1}
        return {mid: self._copies[key] for mid, key in self._key_of.items() if key in repeated}

    def duplicate_submits(self) -> int:
        """Accepted parts that were copies of one accepted before."""
        return sum(n - 1 for n in self._copies.values() if n > 1)

    def acceptance(self) -> dict[str, Any]:
        """When parts were accepted: the first and last (time.time()), and how many in each whole
        second between, for the rate a sender held over a run and in its middle."""
        rows = self.rows
        if not rows:
            return {"first": None, "last": None, "per_second": {}}
        return {"first": rows[0][8], "last": rows[-1][8], "per_second": dict(Counter(int(row[8]) for row in rows))}


def reassemble(parts: list[Received]) -> list[SimMessage]:
    """Complete messages in order of their last part; a concatenated message still missing a part
    is left out. A part sent twice counts once (the later copy wins)."""
    out: list[tuple[float, SimMessage]] = []
    groups: dict[tuple[str, str, str, int, int], dict[int, Received]] = defaultdict(dict)
    for part in parts:
        if part.concat is None:
            text = decode_text(part.body, part.data_coding)
            out.append((part.at, SimMessage(part.system_id, part.source, part.destination, text,
                                            (part.message_id,), part.framing)))
            continue
        ref, total, seq = part.concat
        key = (part.system_id, part.source, part.destination, ref, total)
        group = groups[key]
        group[seq] = part
        if len(group) == total:
            ordered = [group[n] for n in range(1, total + 1)]
            body = b"".join(p.body for p in ordered)
            text = decode_text(body, ordered[0].data_coding)
            out.append((max(p.at for p in ordered), SimMessage(
                part.system_id, part.source, part.destination, text, tuple(p.message_id for p in ordered),
                part.framing)))
            del groups[key]
    out.sort(key=lambda item: item[0])
    return [message for _, message in out]
