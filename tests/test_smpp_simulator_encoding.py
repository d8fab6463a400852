"""The simulator lays out receipts and runs its timers by hand for speed; these pin that the
shortcuts say exactly what the general code says (fastpdu.encode_sm of receipt_deliver_fields,
one heap ordered by due time)."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from engage.engine.smpp import fastpdu
from engage.engine.smpp.receipts_text import receipt_deliver_fields
from engage.simulators.smsc import SmscSimulator
from engage.simulators.smsc_log import Received

PRINTABLE = bytes(c if 32 <= c < 127 else ord("?") for c in range(256))


def part(message_id: str, body: bytes, data_coding: int = 0, at: float = 1_700_000_059.75) -> Received:
    return Received(message_id, "engage", "ENGAGE", "254700000001", data_coding, body, 0, None, at, body)


def general(sim: SmscSimulator, received: Received, stat: str) -> bytes:
    """The receipt as the general encoder makes it: the reference the fast path must match."""
    quoted = received.message_id
    if sim.receipt_id_base == "decimal" and sim.id_format == "hex":
        quoted = str(int(quoted, 16))
    elif sim.receipt_id_base == "hex_upper":
        quoted = quoted.upper()
    preview = received.body[:20].translate(PRINTABLE).decode() if received.data_coding in (0, 1, 3) else ""
    fields = receipt_deliver_fields(
        quoted, handset=received.destination, sender=received.source, stat=stat,
        err="000" if stat == "DELIVRD" else "001", submit_date=datetime.fromtimestamp(received.at),
        done_date=datetime.fromtimestamp(received.at + sim.receipt_delay), text=preview, tlvs=sim.receipt_tlvs)
    return fastpdu.encode_sm(fastpdu.DELIVER_SM, 1, fields)[16:]


@pytest.mark.parametrize("options", [
    {}, {"receipt_tlvs": False}, {"receipt_id_base": "decimal"}, {"receipt_id_base": "hex_upper"},
    {"id_format": "uuid"}, {"id_format": "decimal", "receipt_delay": 0.5},
])
@pytest.mark.parametrize("stat", ["DELIVRD", "UNDELIV"])
def test_a_receipt_is_encoded_byte_for_byte_as_the_general_encoder_would(options: dict, stat: str) -> None:
    sim = SmscSimulator(**options)
    message_id = "9f3c2a7b-0d4e-4c1a-8b6f-2e5d7c9a1b3f" if sim.id_format == "uuid" else "ab12cd34"
    for received in (part(message_id, b"Hello subscriber, your bonus is ready"),
                     part(message_id, b"tab\there\x00\xffnewline\n", data_coding=3),
                     part(message_id, "Привет".encode("utf-16-be"), data_coding=8),
                     part(message_id, b"", at=time.time())):
        fast = sim._receipt_body(received.message_id, received.source.encode("latin-1"),
                                 received.destination.encode("latin-1"), received.data_coding, received.body,
                                 received.at, stat)
        assert fast == general(sim, received, stat)


def test_delayed_actions_run_in_due_order_across_delays_as_one_heap_would() -> None:
    sim = SmscSimulator()
    ran: list[str] = []
    sim._later(0.03, ran.append, "late")
    sim._later(0.01, ran.append, "early")
    sim._later(0.02, ran.append, "middle")
    sim._later(0.01, ran.append, "early, scheduled second")
    sim._run_due(time.monotonic())
    assert ran == []
    sim._run_due(time.monotonic() + 1)
    assert ran == ["early", "early, scheduled second", "middle", "late"]
