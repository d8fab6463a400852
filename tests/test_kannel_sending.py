"""engage's kannel kind sending through a real Kannel (Debian's bearerbox + smsbox) to the SMSC
simulator: long texts arrive whole, every part's report settles its message, and what the
provider and the campaign ask of a message (validity, priority, class, account) reaches the SMSC.
GET and Kannel's own POST alike."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from tornado.httpclient import HTTPRequest, HTTPResponse

from engage.engine.providers.kannel.wire import refusal
from tests.fixtures.callbacks import wait_until
from tests.fixtures.kannel import SYSTEM_ID, SYSTEM_PASSWORD, Kannel, running_kannel
from tests.fixtures.smsc import start_in_thread
from tests.kannel_rig import engage_on_kannel, smpp_time

GSM_400 = ("Top up 20 000+ & get {2x} points [5€] ~now~ at Engage; offer ends Sunday. " * 6)[:400]
UCS2_200 = ("Пополните счёт на 20 000 сум и получите двойные баллы! " * 4)[:200]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(("text", "parts", "data_coding"), [(GSM_400, 3, 0), (UCS2_200, 3, 8)], ids=["gsm7", "ucs2"])
def test_a_long_text_arrives_whole_and_each_parts_report_settles_it(site, kannel: Kannel, method, text, parts,
                                                                     data_coding):
    engine, base = site
    with engage_on_kannel(engine, base, kannel, method=method) as rig:
        [outcome] = rig.send(text)
        assert outcome.ok and len(outcome.part_ids) == parts
        rig.wait_for_status(outcome.message_id, "delivered")

        assert rig.delivered_texts(outcome.message_id) == [text]
        submits = rig.submits(outcome.message_id, parts)
        assert len(submits) == parts
        assert {(s.data_coding, s.esm_class & 0x40) for s in submits} == {(data_coding, 0x40)}
        assert rig.part_statuses(outcome.message_id) == ["delivered"] * parts
        assert [r.stat for r in rig.receipts(outcome.message_id)] == ["DELIVRD"] * parts


def test_a_long_text_arrives_whole_through_a_sendsms_user_left_at_kannels_defaults(site, kannel: Kannel):
    engine, base = site  # max-messages 1, no concatenation: Kannel itself would cut the text to 160 characters
    with engage_on_kannel(engine, base, kannel, username=kannel.single_part_username,
                          password=kannel.single_part_password) as rig:
        [outcome] = rig.send(GSM_400)
        rig.wait_for_status(outcome.message_id, "delivered")
        assert rig.delivered_texts(outcome.message_id) == [GSM_400]


def test_reports_are_asked_for_final_states_only_by_default(site, kannel: Kannel):
    engine, base = site
    with engage_on_kannel(engine, base, kannel) as rig:
        [outcome] = rig.send("one report, not two")
        rig.wait_for_status(outcome.message_id, "delivered")
        [submit] = rig.submits(outcome.message_id, 1)
        assert submit.registered_delivery == 1  # a final receipt; no intermediate ones
        # the SMSC's ack (8) would have come before the receipt, and was not asked for
        assert [r.stat for r in rig.receipts(outcome.message_id)] == ["DELIVRD"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_validity_is_the_campaigns_deadline(site, kannel: Kannel, method):
    engine, base = site
    deadline = datetime.now(UTC) + timedelta(minutes=30)
    with engage_on_kannel(engine, base, kannel, method=method, validity=600) as rig:
        [outcome] = rig.send("before the deadline", valid_until=deadline)
        [submit] = rig.submits(outcome.message_id, 1)
    assert abs(smpp_time(submit.validity_period) - deadline) <= timedelta(minutes=1, seconds=5)


def test_without_a_deadline_the_providers_validity_is_given_and_without_either_none(site, kannel: Kannel):
    engine, base = site
    with engage_on_kannel(engine, base, kannel, validity=90) as rig:
        sent_at = datetime.now(UTC)
        [outcome] = rig.send("the provider's validity")
        [submit] = rig.submits(outcome.message_id, 1)
    assert abs(smpp_time(submit.validity_period) - (sent_at + timedelta(minutes=90))) <= timedelta(minutes=1)
    with engage_on_kannel(engine, base, kannel) as rig:
        [outcome] = rig.send("the SMSC's own validity")
        [submit] = rig.submits(outcome.message_id, 1)
    assert submit.validity_period in (b"", "", None)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_priority_and_message_class_reach_the_smsc(site, kannel: Kannel, method):
    engine, base = site
    with engage_on_kannel(engine, base, kannel, method=method, priority=2, mclass=2, alt_dcs=1) as rig:
        [outcome] = rig.send("a class 2 message")
        [submit] = rig.submits(outcome.message_id, 1)
    assert (submit.priority_flag, submit.data_coding) == (2, 0xF2)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_campaign_is_the_account_kannel_logs_the_message_under(site, kannel: Kannel, method):
    engine, base = site
    with engage_on_kannel(engine, base, kannel, method=method, binfo="engage-{campaign_id}") as rig:
        [outcome] = rig.send("whose message is this")
        number = rig.numbers[outcome.message_id]
    # the account and binfo go no further than Kannel: its access log, its accounting
    [line] = wait_until(lambda: [ln for ln in kannel.log("bearerbox-access").splitlines()
                                 if " Sent SMS " in ln and f"[to:+{number}]" in ln], 10, "Kannel's access log line")
    assert f"[ACT:{rig.campaign_id}]" in line and f"[BINF:engage-{rig.campaign_id}]" in line


TLVS = """group = smpp-tlv
name = engage_campaign
tag = 0x1501
type = nulterminated
length = 32
smsc-id = sim

group = smpp-tlv
name = engage_message
tag = 0x1502
type = octetstring
length = 32
smsc-id = sim
"""


@pytest.fixture(scope="module")
def kannel_with_tlvs() -> Iterator[Kannel]:
    """A Kannel of its own whose kannel.conf declares two SMPP TLVs, as meta-data needs."""
    simulator = start_in_thread(accounts={SYSTEM_ID: SYSTEM_PASSWORD}, receipt_delay=0.05, seed=2)
    try:
        with running_kannel(simulator, groups_extra=TLVS) as gateway:
            yield gateway
    finally:
        simulator.stop_thread()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_meta_data_reaches_the_smsc_as_the_tlvs_kannel_declares(site, kannel_with_tlvs: Kannel, method):
    engine, base = site
    meta_data = {"smpp": {"engage_campaign": "{campaign_id}", "engage_message": "m{message_id}"}}
    with engage_on_kannel(engine, base, kannel_with_tlvs, method=method, meta_data=meta_data) as rig:
        [outcome] = rig.send("tagged")
        number = rig.numbers[outcome.message_id].encode()
        [pdu] = wait_until(lambda: [p for p in kannel_with_tlvs.tap.pdus("submit_sm", "to_smsc")
                                    if p.pdu.destination_addr == number], 10, "the submit_sm")
    assert pdu.tlvs[0x1501] == f"{rig.campaign_id}\0".encode()
    assert pdu.tlvs[0x1502] == f"m{outcome.message_id}".encode()


@pytest.mark.parametrize(("reply", "error"), [
    ("0: Accepted for delivery", None), ("3: Queued for later delivery", None), ("Sent.", None),
    ("Sent. Message splits: 1", None), ("OK", None),
    ("Sent. Message splits: 2", "kannel:split"),  # the gateway cut a part engage framed as one SMS
    ("4: Something else", "kannel:4"),
])
def test_what_a_sendsms_reply_means(reply, error):
    response = HTTPResponse(HTTPRequest("http://kannel/cgi-bin/sendsms"), 202, buffer=io.BytesIO(reply.encode()))
    assert refusal(response) == error
