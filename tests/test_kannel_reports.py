"""Kannel's delivery reports read as its bit mask: what each type means for the message, through
the web app's callback handler, with the reports a real Kannel sends for the receipts its SMSC
gives. Kannel tries a dlr-url once, so every report engage can read is answered 200."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from engage.engine.providers.kannel import read_dlr
from tests.fixtures.callbacks import wait_until
from tests.fixtures.kannel import SYSTEM_ID, SYSTEM_PASSWORD, Kannel, http_get, running_kannel
from tests.fixtures.smsc import start_in_thread
from tests.kannel_rig import engage_on_kannel


@pytest.mark.parametrize(("report_type", "reply", "stat"), [
    (1, "id:a sub:001 dlvrd:001 stat:DELIVRD err:000", "DELIVRD"),
    (2, "id:a sub:001 dlvrd:000 stat:UNDELIV err:001", "UNDELIV"),
    (2, "id:a sub:001 dlvrd:000 stat:EXPIRED err:000", "EXPIRED"),  # a text-only EXPIRED receipt comes as 2
    (4, "id:a sub:001 dlvrd:000 stat:ENROUTE err:000", "ENROUTE"),
    (8, "ACK/", "ACCEPTD"),
    (16, "NACK/0x0000000b/Invalid Destination Address", "REJECTD"),
    (18, "NACK/0x00000045/Submit failed", "REJECTD"),
    (34, "id:a sub:001 dlvrd:000 stat:EXPIRED err:000", "EXPIRED"),  # 0x20 | failed
    (66, "id:a sub:001 dlvrd:000 stat:UNKNOWN err:000", "UNDELIV"),  # 0x40 | failed
    (9, "id:a sub:001 dlvrd:001 stat:DELIVRD err:000", "DELIVRD"),
    (12, "", "ENROUTE"),
    (32, "", "EXPIRED"),
])
def test_a_report_type_is_read_as_kannels_bit_mask(report_type, reply, stat):
    [receipt] = read_dlr({"id": "7-ab", "status": str(report_type), "smsc_reply": reply})
    assert receipt["stat"] == stat


@pytest.mark.parametrize("report_type", [0, 3, 17, 64, 128, -1])
def test_a_type_that_says_nothing_to_act_on_is_unknown(report_type):
    [receipt] = read_dlr({"id": "7-ab", "status": str(report_type)})
    assert receipt["stat"] == "UNKNOWN"


@pytest.fixture
def undeliverable(kannel: Kannel) -> Iterator[None]:
    kannel.simulator.undeliverable_rate = 1.0
    try:
        yield
    finally:
        kannel.simulator.undeliverable_rate = 0.0


@contextlib.contextmanager
def receipts_saying(kannel: Kannel, stat: str, *, text_only: bool = False) -> Iterator[None]:
    kannel.tap.receipt_stat, kannel.tap.receipts_text_only = stat, text_only
    try:
        yield
    finally:
        kannel.tap.receipt_stat, kannel.tap.receipts_text_only = None, False


@pytest.mark.parametrize(("stat", "text_only", "status"), [
    ("EXPIRED", False, "expired"),  # Kannel's type 34
    ("EXPIRED", True, "expired"),  # type 2, the receipt's text saying EXPIRED
    ("UNDELIV", False, "undelivered"),
    ("DELETED", False, "undelivered"),
    ("REJECTD", False, "rejected"),
])
def test_a_failed_message_ends_as_kannel_reports_it(site, kannel: Kannel, stat, text_only, status):
    engine, base = site
    with engage_on_kannel(engine, base, kannel) as rig, receipts_saying(kannel, stat, text_only=text_only):
        [outcome] = rig.send("too late")
        rig.wait_for_status(outcome.message_id, status)


def test_an_undeliverable_message_with_a_network_error_ends_undelivered_with_its_error(site, kannel: Kannel,
                                                                                       undeliverable):
    engine, base = site
    with engage_on_kannel(engine, base, kannel) as rig:
        [outcome] = rig.send("nobody there")
        rig.wait_for_status(outcome.message_id, "undelivered")
        [receipt] = rig.receipts(outcome.message_id)
    assert receipt.stat == "UNDELIV" and receipt.err not in (None, "000")


def test_a_submit_the_smsc_refuses_ends_rejected_by_the_type_16_report(site):
    engine, base = site
    simulator = start_in_thread(accounts={SYSTEM_ID: SYSTEM_PASSWORD}, reject_rate=1.0, seed=1)
    try:
        with running_kannel(simulator) as refusing, engage_on_kannel(engine, base, refusing) as rig:
            [outcome] = rig.send("refused")
            assert outcome.ok  # smsbox took it; the SMSC refused it later
            rig.wait_for_status(outcome.message_id, "rejected")
            [receipt] = rig.receipts(outcome.message_id)
    finally:
        simulator.stop_thread()
    assert (receipt.stat, receipt.err) == ("REJECTD", "0x0000000b")


def test_a_report_of_a_type_engage_cannot_act_on_is_answered_200_and_settles_nothing(site, kannel: Kannel):
    engine, base = site
    with engage_on_kannel(engine, base, kannel, dlr_mask=0) as rig:  # no report of Kannel's own
        [outcome] = rig.send("an odd report")
        [part_id] = outcome.part_ids
        odd = rig.provider.dlr_url(part_id).replace("%d", "64").replace("%T", "1767225600").replace("%A", "")
        assert http_get(odd)[0] == 200
        wait_until(lambda: rig.receipts(outcome.message_id), 10, "the report stored")
        assert [r.stat for r in rig.receipts(outcome.message_id)] == ["UNKNOWN"]
        assert rig.status(outcome.message_id) == "submitted"
