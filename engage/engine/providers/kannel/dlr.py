"""Kannel's delivery reports, as its smsbox calls engage's dlr-url (GET, or POSTed as a form) with
the % escapes filled in: id (ours, put in the URL when the part was sent), status (%d, the
report type), ts (%T, unix time), smsc_reply (%A, the receipt's text or the SMSC's answer).

%d is a bit mask: 1 delivered, 2 failed, 4 buffered (ACCEPTD/ENROUTE receipts), 8 taken by the
SMSC, 16 refused by the SMSC ("NACK/0x0000000b/..."), with higher bits qualifying a failure:
Kannel reports an expired message as 34 (0x20 | 2) and an unknown one as 66 (0x40 | 2).

Kannel tries a dlr-url once and drops the report on any answer but 2xx, so every report whose
id and type are readable is answered 200 and stored; a type that says nothing engage can act on
(0, a bit it does not know alone, delivered and failed at once) is stored as UNKNOWN, which
settles nothing, and logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from engage.engine.providers.base import MalformedCallback
from engage.engine.providers.callback_fields import error_code, from_unix, message_id
from engage.engine.smpp.receipts_text import parse_receipt_text

log = logging.getLogger(__name__)

DELIVERED, FAILED, BUFFERED, SMSC_ACK, SMSC_REFUSED = 1, 2, 4, 8, 16
EXPIRED_BIT = 0x20
UNKNOWN = "UNKNOWN"
# A failure's receipt text may say more than %d: a text-only EXPIRED receipt arrives as type 2.
_FAILURE_WORDS = {"EXPIRED", "DELETED", "REJECTD", "UNDELIV"}
_TYPE = re.compile(r"^-?\d{1,9}$")
_NACK = re.compile(r"^NACK/([^/]*)", re.IGNORECASE)


def stat_of(report_type: int, reply: str = "") -> str:
    """The receipt stat word a Kannel report type means (see the module's docstring)."""
    if report_type < 0:
        return UNKNOWN
    outcome = report_type & (DELIVERED | FAILED | SMSC_REFUSED)
    if outcome == DELIVERED:
        return "DELIVRD"
    if outcome == FAILED:
        if report_type & EXPIRED_BIT:
            return "EXPIRED"
        word = parse_receipt_text(reply).get("stat")
        return word if word in _FAILURE_WORDS else "UNDELIV"
    if outcome in (SMSC_REFUSED, SMSC_REFUSED | FAILED):
        return "REJECTD"
    if outcome:  # delivered and failed at once: nothing to act on
        return UNKNOWN
    if report_type & EXPIRED_BIT:
        return "EXPIRED"
    if report_type & BUFFERED:
        return "ENROUTE"
    if report_type & SMSC_ACK:
        return "ACCEPTD"
    return UNKNOWN


def read_dlr(args: Mapping[str, str]) -> list[dict[str, Any]]:
    """The receipt one dlr-url call holds; MalformedCallback when its id or type cannot be read."""
    our_id = message_id(args.get("id"), "id")
    status = (args.get("status") or "").strip()
    if status.startswith("%"):
        raise MalformedCallback("status: got the unsubstituted escape %d; only Kannel should call this URL")
    if not _TYPE.match(status):
        raise MalformedCallback(f"status: {status[:20]!r} is not a Kannel report type (a number: 1 delivered, "
                                "2 failed, 4 buffered, 8 SMSC ack, 16 SMSC refusal, and their sums)")
    reply = args.get("smsc_reply") or ""
    stat = stat_of(int(status), reply)
    if stat == UNKNOWN:
        log.warning("Kannel report type %s for %s says nothing engage can act on; stored as UNKNOWN", status, our_id)
    nack = _NACK.match(reply)
    err = nack.group(1) if nack else parse_receipt_text(reply)["err"]
    return [{"id": our_id, "stat": stat, "err": error_code(err, "smsc_reply"), "done_at": from_unix(args.get("ts"))}]
