"""Delivery receipts: the SMPP 3.4 Appendix B text, and turning a deliver_sm into a Receipt.

The receipt text format is only "suggested" by the spec, so every SMSC bends it: keys
in other cases, dates with seconds, fields missing, ``Text:`` capitalised, ``submit_date``
with an underscore. The parser looks for each field on its own instead of matching one
rigid pattern, and the TLVs (receipted_message_id, message_state) win whenever present
because they are the machine-readable part.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engage.engine.smpp.client import DeliverSm

__all__ = [
    "FINAL_STATS",
    "MESSAGE_STATES",
    "NON_FINAL_STATS",
    "Receipt",
    "format_receipt_text",
    "is_final",
    "parse_receipt_text",
    "receipt_deliver_fields",
    "receipt_from_deliver",
]

log = logging.getLogger(__name__)

FINAL_STATS = frozenset({"DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED"})
NON_FINAL_STATS = frozenset({"ACCEPTD", "ENROUTE", "UNKNOWN"})

# SMPP 3.4 section 5.2.28 message_state values, as receipt stat words.
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}

# Long spellings some SMSCs write instead of the 7-letter words.
_STAT_ALIASES = {
    "DELIVERED": "DELIVRD",
    "UNDELIVERABLE": "UNDELIV",
    "UNDELIVERED": "UNDELIV",
    "ACCEPTED": "ACCEPTD",
    "REJECTED": "REJECTD",
    "EXPIRD": "EXPIRED",
    "DELETD": "DELETED",
}

_ESM_RECEIPT_KINDS = (0x04, 0x08)  # SMSC delivery receipt, SME delivery acknowledgement

_TEXT = re.compile(r"\btext\s*:", re.IGNORECASE)
_FIELDS = {
    "id": re.compile(r"\bid\s*:\s*(\S+)", re.IGNORECASE),
    "sub": re.compile(r"\bsub\s*:\s*(\S+)", re.IGNORECASE),
    "dlvrd": re.compile(r"\bdlvrd\s*:\s*(\S+)", re.IGNORECASE),
    "submit_date": re.compile(r"\bsubmit[\s_]*date\s*:\s*(\d+)", re.IGNORECASE),
    "done_date": re.compile(r"\bdone[\s_]*date\s*:\s*(\d+)", re.IGNORECASE),
    "stat": re.compile(r"\bstat\s*:\s*(\w+)", re.IGNORECASE),
    "err": re.compile(r"\berr\s*:\s*(\w+)", re.IGNORECASE),
}


@dataclass
class Receipt:
    message_id: str
    stat: str
    err: str | None
    done_at: datetime | None

    @property
    def final(self) -> bool:
        return self.stat in FINAL_STATS


def is_final(stat: str) -> bool:
    return _normalise_stat(stat) in FINAL_STATS


def parse_receipt_text(text: str) -> dict[str, Any]:
    """Pull receipt fields out of the text; any field not found is ``None``.

    Dates come back as naive datetimes, in whatever zone the SMSC writes them (usually
    its own local time, often UTC); the format carries no zone.
    """
    head, body = text, None
    match = _TEXT.search(text)
    if match:
        head, body = text[: match.start()], text[match.end() :]
    found: dict[str, str | None] = {}
    for key, pattern in _FIELDS.items():
        hit = pattern.search(head)
        found[key] = hit.group(1) if hit else None
    return {
        "id": found["id"],
        "sub": found["sub"],
        "dlvrd": found["dlvrd"],
        "submit_date": _parse_date(found["submit_date"]),
        "done_date": _parse_date(found["done_date"]),
        "stat": _normalise_stat(found["stat"]) if found["stat"] else None,
        "err": found["err"],
        "text": body,
    }


def format_receipt_text(
    message_id: str,
    stat: str,
    *,
    err: str = "000",
    submit_date: datetime,
    done_date: datetime,
    sub: str = "001",
    dlvrd: str | None = None,
    text: str = "",
) -> str:
    """The SMPP 3.4 Appendix B layout; ``text`` is cut to its conventional 20 characters."""
    if dlvrd is None:
        dlvrd = "001" if stat == "DELIVRD" else "000"
    return (
        f"id:{message_id} sub:{sub} dlvrd:{dlvrd} "
        f"submit date:{submit_date:%y%m%d%H%M} done date:{done_date:%y%m%d%H%M} "
        f"stat:{stat} err:{err} text:{text[:20]}"
    )


def receipt_from_deliver(d: DeliverSm) -> Receipt | None:
    """``None`` for a subscriber's own message (MO), or a receipt naming no message id at all."""
    if (d.esm_class & 0x3C) not in _ESM_RECEIPT_KINDS:
        return None
    raw = d.short_message or d.message_payload or b""
    parsed = parse_receipt_text(raw.decode("latin-1"))
    message_id = d.receipted_message_id or parsed["id"]
    if not message_id:
        log.warning("delivery receipt without receipted_message_id or id: field: %r", raw[:80])
        return None
    if d.message_state is not None and d.message_state in MESSAGE_STATES:
        stat = MESSAGE_STATES[d.message_state]
    else:
        stat = parsed["stat"] or "UNKNOWN"
    err = parsed["err"]
    if err is None and d.network_error_code and len(d.network_error_code) == 3:
        err = f"{int.from_bytes(d.network_error_code[1:], 'big'):03d}"
    return Receipt(message_id=message_id, stat=stat, err=err, done_at=parsed["done_date"])


def receipt_deliver_fields(
    message_id: str,
    *,
    handset: str,
    sender: str,
    stat: str,
    err: str,
    submit_date: datetime,
    done_date: datetime,
    text: str = "",
) -> dict[str, Any]:
    """deliver_sm fields (smpplib names) carrying a receipt, the inverse of :func:`receipt_from_deliver`.

    The receipt comes *from* the handset *to* whoever sent the message, with the state in
    both the TLVs and the text, since ESMEs differ in which one they read.
    """
    states = {word: number for number, word in MESSAGE_STATES.items()}
    fields: dict[str, Any] = {
        "source_addr_ton": 1,
        "source_addr_npi": 1,
        "source_addr": handset,
        "dest_addr_ton": 5,
        "destination_addr": sender,
        "esm_class": 0x04,
        "data_coding": 0,
        "short_message": format_receipt_text(
            message_id, stat, err=err, submit_date=submit_date, done_date=done_date, text=text
        ).encode("ascii", "replace"),
        "receipted_message_id": message_id,
        "message_state": states.get(stat, 7),
    }
    if stat not in ("DELIVRD", "ACCEPTD", "ENROUTE"):
        fields["network_error_code"] = b"\x03" + int(err if err.isdigit() else 0).to_bytes(2, "big")
    return fields


def _normalise_stat(stat: str) -> str:
    word = stat.strip().upper()
    return _STAT_ALIASES.get(word, word)


def _parse_date(value: str | None) -> datetime | None:
    if not value or len(value) not in (10, 12):
        return None
    try:
        return datetime.strptime(value, "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M")
    except ValueError:
        return None
