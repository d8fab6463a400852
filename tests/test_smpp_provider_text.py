"""What the SMPP provider makes of a text: data coding, long-message framing (checked by reassembly
at the simulator), source address TON/NPI; and what reaches the sink from the SMSC."""

from __future__ import annotations

import pytest

from engage.engine.providers.base import InboundSms, SendOutcome
from engage.engine.smpp import codec
from engage.simulators.smsc import SmscSimulator
from tests.smpp_helpers import (
    GSM_LONG,
    UCS2_LONG,
    ScriptedSmsc,
    Sink,
    ok,
    provider_settings,
    run,
    running,
    sms,
    wait_until,
)


@pytest.mark.parametrize("mode", ["udh8", "udh16", "sar", "payload"])
@pytest.mark.parametrize("text", [GSM_LONG, UCS2_LONG, "short and sweet {€}"], ids=["gsm7", "ucs2", "single"])
def test_each_long_message_mode_reassembles_to_the_exact_text_at_the_smsc(
        smsc: SmscSimulator, mode: str, text: str) -> None:
    async def scenario() -> list[SendOutcome]:
        async with running(provider_settings(smsc.port, long_messages=mode)) as provider:
            return [await provider.send(sms(1, text)), await provider.send(sms(2, text))]

    outcomes = run(scenario())
    messages = smsc.messages()
    assert [m.text for m in messages] == [text, text]
    assert [list(m.message_ids) for m in messages] == [o.part_ids for o in outcomes]
    long = not text.startswith("short")
    expected = {"udh8": "udh", "udh16": "udh", "sar": "sar", "payload": "payload"}[mode] if long else "single"
    assert {m.framing for m in messages} == {expected}
    assert (len(outcomes[0].part_ids) == 1) == (not long or mode == "payload")


@pytest.mark.parametrize(("data_coding", "text", "sent_as"), [
    (1, GSM_LONG.replace("€", "E"), 1), (3, "Café Zürich, ¡olé! " * 12, 3), (1, "£5 off", 8), (3, "€5 off", 8)])
def test_gsm_text_goes_out_in_the_configured_data_coding_or_else_ucs2(
        smsc: SmscSimulator, data_coding: int, text: str, sent_as: int) -> None:
    async def scenario() -> SendOutcome:
        async with running(provider_settings(smsc.port, data_coding=data_coding)) as provider:
            return await provider.send(sms(1, text))

    assert run(scenario()).ok
    assert {r.data_coding for r in smsc.received} == {sent_as}
    assert [m.text for m in smsc.messages()] == [text]


def test_source_ton_npi_follow_the_sender_unless_configured() -> None:
    smsc = ScriptedSmsc(lambda pdu, _: ok(pdu))
    senders = ["Engage", "+254700000001", "12345"]

    async def scenario() -> None:
        async with smsc as port:
            async with running(provider_settings(port)) as provider:
                for n, sender in enumerate(senders):
                    await provider.send(sms(n, sender=sender))
            async with running(provider_settings(port, source_ton=2, source_npi=9)) as provider:
                await provider.send(sms(9, sender="+254700000001"))

    run(scenario())
    seen = [(codec.as_str(p.source_addr), p.source_addr_ton, p.source_addr_npi) for p in smsc.submits]
    assert seen == [("Engage", 5, 0), ("254700000001", 1, 1), ("12345", 0, 1), ("254700000001", 2, 9)]
    assert codec.as_str(smsc.submits[0].destination_addr) == "254700000000"


def test_a_sender_that_is_not_ascii_fails_as_invalid_source_address(smsc: SmscSimulator) -> None:
    async def scenario() -> SendOutcome:
        async with running(provider_settings(smsc.port)) as provider:
            return await provider.send(sms(1, sender="Магазин"))

    assert run(scenario()).error == "smpp:0x0a"


def test_receipts_and_subscriber_messages_reach_the_sink(smsc: SmscSimulator) -> None:
    sink = Sink()

    async def scenario() -> SendOutcome:
        async with running(provider_settings(smsc.port), sink=sink) as provider:
            outcome = await provider.send(sms(1))
            smsc.deliver_mo("254700000001", "Engage", "Да, STOP")
            await wait_until(lambda: len(sink.receipts) == 1 and len(sink.replies) == 1)
            return outcome

    outcome = run(scenario())
    assert [(r.message_id, r.stat) for r in sink.receipts] == [(outcome.part_ids[0], "DELIVRD")]
    assert sink.replies == [InboundSms("254700000001", "Engage", "Да, STOP")]
