"""Reading delivery receipts at the provider's full rate.

:func:`receipt_from_deliver` reads any receipt an SMSC may send, at a few microseconds per
receipt that the common case does not need: a receipt in the Appendix B layout whose state
and message id also come as TLVs. For that shape only ``err`` and the done date are read
from the text (the TLVs win for the rest, exactly as in :func:`receipt_from_deliver`), and
done dates, which have minute resolution, are parsed once per distinct value. Every other
deliver_sm goes to :func:`receipt_from_deliver` unchanged.
"""

from __future__ import annotations

import re
from datetime import datetime

from engage.engine.smpp.client_types import DeliverSm
from engage.engine.smpp.receipts_text import MESSAGE_STATES, DeliveryReport, _parse_date, receipt_from_deliver

__all__ = ["read_receipt"]

_RECEIPT_KINDS = (0x04, 0x08)  # esm_class bits 2-5: SMSC delivery receipt, SME delivery acknowledgement
# The spec's layout, as receipts_text reads it, up to the text the receipt quotes.
_APPENDIX_B = re.compile(rb"id:[^\s,;:]+ sub:\d+ dlvrd:\d+ submit date:(?:\d{10}|\d{12}) "
                         rb"done date:(\d{10}|\d{12}) stat:[A-Za-z]+ err:(\w+) text:")
_DATES_KEPT = 256
_dates: dict[bytes, datetime | None] = {}


def read_receipt(d: DeliverSm) -> DeliveryReport | None:
    """What :func:`receipt_from_deliver` returns for ``d``: a DeliveryReport, or ``None`` for an MO."""
    state = d.message_state
    if d.receipted_message_id and state in MESSAGE_STATES and (d.esm_class & 0x3C) in _RECEIPT_KINDS:
        match = _APPENDIX_B.match(d.short_message or d.message_payload or b"")
        if match is not None:
            done, err = match.groups()
            return DeliveryReport(message_id=d.receipted_message_id, stat=MESSAGE_STATES[state],
                           err=err.decode("ascii"), done_at=_done_at(done))
    return receipt_from_deliver(d)


def _done_at(value: bytes) -> datetime | None:
    known = _dates.get(value, _dates)
    if known is _dates:
        if len(_dates) >= _DATES_KEPT:
            _dates.clear()
        known = _dates[value] = _parse_date(value.decode("ascii"))
    return known  # type: ignore[return-value]
