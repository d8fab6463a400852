"""A sender remembers which message each single-part submit was, so the receipt that comes back on
its binds can name the message it settles; what it forgets is looked up in the database as before."""

from __future__ import annotations

from engage.engine.providers.base import SendOutcome
from engage.engine.providers.recent_submits import RecentSubmits
from engage.simulators.smsc import SmscSimulator
from tests.smpp_helpers import GSM_LONG, Sink, provider_settings, run, running, sms, wait_until


def test_a_remembered_id_gives_its_message_once_whatever_its_case():
    recent = RecentSubmits()
    recent.remember("0A1B", 7)
    assert recent.take(" 0a1b") == 7
    assert recent.take("0a1b") is None


def test_beyond_its_capacity_the_oldest_ids_are_forgotten():
    recent = RecentSubmits(capacity=2)
    for n, provider_id in enumerate(["a", "b", "c"]):
        recent.remember(provider_id, n)
    assert (recent.take("a"), recent.take("b"), recent.take("c"), len(recent)) == (None, 1, 2, 0)


def _send_and_collect(smsc: SmscSimulator, texts: list[str]) -> tuple[list, list]:
    sink = Sink()

    async def scenario() -> list[SendOutcome]:
        async with running(provider_settings(smsc.port), sink=sink) as provider:
            outcomes = [await provider.send(sms(n, text)) for n, text in enumerate(texts)]
            parts = sum(len(o.part_ids) for o in outcomes)
            await wait_until(lambda: len(sink.receipts) == parts)
            return outcomes

    return run(scenario()), sink.receipts


def test_a_final_receipt_for_a_single_part_message_names_the_message_it_settles(smsc: SmscSimulator):
    outcomes, receipts = _send_and_collect(smsc, ["hello", "bonjour"])
    by_id = {r.message_id: r.ours for r in receipts}
    assert by_id == {o.part_ids[0]: o.message_id for o in outcomes}


def test_receipts_for_the_parts_of_a_long_message_name_no_message(smsc: SmscSimulator):
    outcomes, receipts = _send_and_collect(smsc, [GSM_LONG])
    assert len(outcomes[0].part_ids) > 1
    assert [r.ours for r in receipts] == [None] * len(outcomes[0].part_ids)
