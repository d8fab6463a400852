"""Delivery receipts: the SMPP 3.4 Appendix B text, and turning a deliver_sm into a DeliveryReport.

The receipt text format is only "suggested" by the spec, so every SMSC bends it: keys
in other cases, dates with seconds (``2611221530``, ``261122153045``, ``2611221530 45``,
``20261122153045``), fields missing or in another order, vendor fields added (``imsi:``,
``msc:``), ``Text:`` capitalised, ``submit_date`` with an underscore, fields separated by
commas, stat words spelt out (``DELIVERED``, ``FAILED``). The parser picks each known field
out of one scan instead of matching one rigid pattern, and the TLVs (receipted_message_id,
message_state, network_error_code) win whenever present because they are the
machine-readable part.
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
    "DeliveryReport",
    "format_receipt_text",
    "is_final",
    "parse_receipt_text",
    "receipt_deliver_fields",
    "receipt_from_deliver",
    "receipt_stamp",
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

_STATE_NUMBERS = {word: number for number, word in MESSAGE_STATES.items()}

# Long spellings some SMSCs write instead of the 7-letter words.
_STAT_ALIASES = {
    "DELIVERED": "DELIVRD",
    "DELIVERD": "DELIVRD",
    "UNDELIVERABLE": "UNDELIV",
    "UNDELIVERED": "UNDELIV",
    "FAILED": "UNDELIV",
    "ACCEPTED": "ACCEPTD",
    "REJECTED": "REJECTD",
    "EXPIRD": "EXPIRED",
    "DELETD": "DELETED",
    "BUFFERED": "ENROUTE",
    "BUFFRED": "ENROUTE",
}

_ESM_RECEIPT_KINDS = (0x04, 0x08)  # SMSC delivery receipt, SME delivery acknowledgement

_TEXT = re.compile(r"\btext\s*:", re.IGNORECASE)
# One scan for every known key; a date may carry its seconds after a space ("2611221530 45").
# A key left empty ("err: stat:DELIVRD") does not swallow the next key as its value.
_KEY = r"(id|sub|dlvrd|submit[\s_]*date|done[\s_]*date|stat|err)"
_FIELD = re.compile(rf"\b{_KEY}\s*:\s*(?!(?:{_KEY[1:-1]}|text)\s*:)([^\s,;]*)(?:\s(\d\d)(?=[\s,;]|$))?",
                    re.IGNORECASE)
_APPENDIX_B = re.compile(r"id:([^\s,;:]+) sub:(\d+) dlvrd:(\d+) submit date:(\d{10}|\d{12}) "
                         r"done date:(\d{10}|\d{12}) stat:([A-Za-z]+) err:(\w+) text:(.*)\Z", re.DOTALL)
_KEY_SPELLINGS: dict[str, str] = {}
_KEYS = {"id": "id", "sub": "sub", "dlvrd": "dlvrd", "submitdate": "submit_date", "donedate": "done_date",
         "stat": "stat", "err": "err"}


@dataclass
class DeliveryReport:
    message_id: str
    stat: str
    err: str | None
    done_at: datetime | None
    ours: int | None = None  # the engage message its sender submitted under message_id, if it remembers

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
    exact = _APPENDIX_B.match(text)
    if exact:  # the layout as the spec writes it, the common case: read in one match
        message_id, sub, dlvrd, submitted, done, stat, err, body = exact.groups()
        return {"id": message_id, "sub": sub, "dlvrd": dlvrd, "submit_date": _parse_date(submitted),
                "done_date": _parse_date(done), "stat": _normalise_stat(stat), "err": err, "text": body}
    head, body = text, None
    match = _TEXT.search(text)
    if match:
        head, body = text[: match.start()], text[match.end() :]
    found: dict[str, str | None] = dict.fromkeys(_KEYS.values())
    seconds: dict[str, str] = {}
    for hit in _FIELD.finditer(head):
        raw, value, secs = hit.groups()
        key = _KEY_SPELLINGS.get(raw) or _spelling(raw)
        if found[key] is None and value:
            found[key] = value
            if secs:
                seconds[key] = secs
    return {
        "id": found["id"],
        "sub": found["sub"],
        "dlvrd": found["dlvrd"],
        "submit_date": _parse_date(found["submit_date"], seconds.get("submit_date")),
        "done_date": _parse_date(found["done_date"], seconds.get("done_date")),
        "stat": _normalise_stat(found["stat"]) if found["stat"] else None,
        "err": found["err"],
        "text": body,
    }


def _spelling(raw: str) -> str:
    """Which field a key as written ("Submit Date", "DONE_DATE") names; remembered for next time."""
    key = _KEYS["".join(raw.lower().split()).replace("_", "")]
    if len(_KEY_SPELLINGS) < 1000:
        _KEY_SPELLINGS[raw] = key
    return key


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
        f"submit date:{_minutes(submit_date)} done date:{_minutes(done_date)} "
        f"stat:{stat} err:{err} text:{text[:20]}"
    )


def _minutes(when: datetime) -> str:
    """``%y%m%d%H%M`` by %-formatting: half the cost of strftime, once per receipt."""
    return "%02d%02d%02d%02d%02d" % (when.year % 100, when.month, when.day, when.hour, when.minute)  # noqa: UP031


_STAMPS: dict[int, str] = {}


def receipt_stamp(timestamp: float) -> str:
    """A Unix time as a receipt date (``YYMMDDhhmm``, local time, as :func:`format_receipt_text` writes
    ``datetime.fromtimestamp``). Remembered per whole second: a simulator writes two per receipt, tens of
    thousands a second, nearly all in the same few seconds. Local offsets are whole seconds, so every
    instant of a second falls in that second's minute."""
    second = int(timestamp // 1)
    stamp = _STAMPS.get(second)
    if stamp is None:
        if len(_STAMPS) >= 512:  # a long run moves on: keep the cache small
            _STAMPS.clear()
        stamp = _STAMPS[second] = _minutes(datetime.fromtimestamp(second))
    return stamp


def receipt_from_deliver(d: DeliverSm) -> DeliveryReport | None:
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
    return DeliveryReport(message_id=message_id, stat=stat, err=err, done_at=parsed["done_date"])


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
    tlvs: bool = True,
) -> dict[str, Any]:
    """deliver_sm fields (smpplib names) carrying a receipt, the inverse of :func:`receipt_from_deliver`.

    The receipt comes *from* the handset *to* whoever sent the message, with the state in
    both the TLVs and the text, since ESMEs differ in which one they read (``tlvs=False``:
    the text alone, as older SMSCs send it).
    """
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
    }
    if not tlvs:
        return fields
    fields["receipted_message_id"] = message_id
    fields["message_state"] = _STATE_NUMBERS.get(stat, 7)
    if stat not in ("DELIVRD", "ACCEPTD", "ENROUTE"):
        fields["network_error_code"] = b"\x03" + int(err if err.isdigit() else 0).to_bytes(2, "big")
    return fields


def _normalise_stat(stat: str) -> str:
    word = stat.strip().upper()
    return _STAT_ALIASES.get(word, word)


def _parse_date(value: str | None, seconds: str | None = None) -> datetime | None:
    """YYMMDDhhmm, YYMMDDhhmmss or YYYYMMDDhhmmss (seconds may also come apart, after a space)."""
    if not value or not value.isdigit() or len(value) not in (10, 12, 14):
        return None
    if len(value) == 14:
        year, rest = int(value[:4]), value[4:]
    else:
        year, rest = 2000 + int(value[:2]), value[2:]
    if len(rest) == 8 and seconds:
        rest += seconds
    try:
        return datetime(year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]),
                        int(rest[8:10]) if len(rest) == 10 else 0)
    except ValueError:
        return None
