"""USSD hops on an SMPP provider's binds, over real TCP against the SMSC simulator dialling codes
as a phone would: a USSD deliver_sm is neither a receipt nor an MO; it goes to the provider's
``on_ussd`` and its screen comes back as a submit_sm on the same provider's bind, USSR request or
PSSR response, its_session_info echoed. The USSD engine itself is in the end-to-end specs
(test_ussd_gateway_smpp.py); here ``on_ussd`` is a plain function of the request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engage.engine.providers.smpp.ussd import UNAVAILABLE
from engage.engine.smpp.ussd_ops import UssdRequest
from engage.simulators.smsc import SmscSimulator
from engage.simulators.smsc_ussd import UssdScreen
from tests.smpp_helpers import Sink, provider_settings, run, running, wait_until

Answer = Callable[[UssdRequest], tuple[str, bool]]


def _walk(sim: SmscSimulator, answer: Answer | None, steps: Callable[[Any], Any], sink: Sink | None = None,
          **config: Any) -> tuple[list[UssdRequest], Any]:
    """Run a provider whose on_ussd answers with ``answer``; ``steps(provider)`` is the phone's part."""
    seen: list[UssdRequest] = []

    async def handler(provider_id: int, name: str, request: UssdRequest) -> tuple[str, bool]:
        seen.append(request)
        return answer(request)  # type: ignore[misc]

    async def scenario() -> Any:
        async with running(provider_settings(sim.port, **config), sink=sink) as provider:
            if answer is not None:
                provider.on_ussd = handler
            return await steps(provider)

    return seen, run(scenario())


def _menu(request: UssdRequest) -> tuple[str, bool]:
    if request.opens:
        return "1 Balance\n2 Rewards", False
    return f"You chose {request.text}", True


def test_a_dialled_code_reaches_the_handler_and_its_screen_comes_back_as_ussr_request(smsc: SmscSimulator) -> None:
    async def phone(provider: Any) -> UssdScreen:
        return await smsc.ussd.dial("+998901234567", "*123#").screen()

    seen, screen = _walk(smsc, _menu, phone)
    assert [(r.opens, r.text, r.source) for r in seen] == [(True, "*123#", "998901234567")]
    assert (screen.text, screen.op, screen.ends, screen.service_type) == ("1 Balance\n2 Rewards", 2, False, "USSD")


def test_an_answer_reaches_the_handler_and_the_last_screen_goes_as_pssr_response_ending_the_session(
        smsc: SmscSimulator) -> None:
    async def phone(provider: Any) -> list[UssdScreen]:
        call = smsc.ussd.dial("998901234567", "*123#")
        first = await call.screen()
        call.reply("2")
        return [first, await call.screen()]

    seen, (first, last) = _walk(smsc, _menu, phone)
    assert [(r.opens, r.text) for r in seen] == [(True, "*123#"), (False, "2")]
    assert (last.text, last.op, last.ends) == ("You chose 2", 17, True)
    assert first.its_session_info >> 8 == last.its_session_info >> 8
    assert last.its_session_info & 1 == 1 and first.its_session_info & 1 == 0


def test_the_answer_goes_from_the_service_address_the_subscriber_dialled(smsc: SmscSimulator) -> None:
    async def phone(provider: Any) -> UssdScreen:
        return await smsc.ussd.dial("998901234567", "*123#", address="7123").screen()

    _, screen = _walk(smsc, _menu, phone)
    assert screen.source == "7123"


def test_a_ussd_hop_is_neither_a_receipt_nor_an_mo_while_an_sms_beside_it_still_is(smsc: SmscSimulator) -> None:
    sink = Sink()

    async def phone(provider: Any) -> UssdScreen:
        smsc.deliver_mo("998901234568", "4455", "stop")
        screen = await smsc.ussd.dial("998901234567", "*123#").screen()
        await wait_until(lambda: len(sink.replies) == 1)
        return screen

    _walk(smsc, _menu, phone, sink=sink)
    assert [(m.source, m.text) for m in sink.replies] == [("998901234568", "stop")]
    assert sink.receipts == []


def test_sessions_without_its_session_info_are_answered_without_it(smsc: SmscSimulator) -> None:
    async def phone(provider: Any) -> UssdScreen:
        return await smsc.ussd.dial("998901234567", "*123#", session_info=False).screen()

    _, screen = _walk(smsc, _menu, phone)
    assert (screen.text, screen.its_session_info) == ("1 Balance\n2 Rewards", None)


def test_the_op_codes_an_operator_uses_are_read_and_answered_as_configured(smsc: SmscSimulator) -> None:
    async def phone(provider: Any) -> list[UssdScreen]:
        call = smsc.ussd.dial("998901234567", "*123#", open_op=0x20, answer_op=0x21, end_op=0x23)
        first = await call.screen()
        call.reply("1")
        return [first, await call.screen()]

    seen, screens = _walk(smsc, _menu, phone, ussd_op_open=0x20, ussd_op_answer=0x21, ussd_op_continue=0x22,
                          ussd_op_end=0x23)
    assert [r.opens for r in seen] == [True, False]
    assert [(s.op, s.ends) for s in screens] == [(0x22, False), (0x23, True)]


def test_a_provider_no_ussd_gateway_serves_ends_the_session_with_a_short_apology(smsc: SmscSimulator) -> None:
    async def phone(provider: Any) -> UssdScreen:
        return await smsc.ussd.dial("998901234567", "*123#").screen()

    _, screen = _walk(smsc, None, phone)
    assert (screen.text, screen.ends) == (UNAVAILABLE, True)


def test_a_handler_that_fails_ends_that_session_and_the_next_one_is_served(smsc: SmscSimulator) -> None:
    def fragile(request: UssdRequest) -> tuple[str, bool]:
        if request.source.endswith("7"):
            raise RuntimeError("the menu broke")
        return _menu(request)

    async def phone(provider: Any) -> list[UssdScreen]:
        broken = await smsc.ussd.dial("998901234567", "*123#").screen()
        return [broken, await smsc.ussd.dial("998901234568", "*123#").screen()]

    _, (broken, served) = _walk(smsc, fragile, phone)
    assert (broken.text, broken.ends) == (UNAVAILABLE, True)
    assert (served.text, served.ends) == ("1 Balance\n2 Rewards", False)


def test_a_ussd_deliver_sm_with_an_op_the_provider_does_not_use_is_refused_and_never_handled(
        smsc: SmscSimulator) -> None:
    async def phone(provider: Any) -> None:
        smsc.ussd.dial("998901234567", "*123#", open_op=3)
        await wait_until(lambda: smsc.counts()["mo_nacked"] >= 1)

    seen, _ = _walk(smsc, _menu, phone)
    assert seen == []


def test_a_screen_over_254_octets_travels_in_message_payload(smsc: SmscSimulator) -> None:
    long_text = "Привет! " * 20  # 160 characters of UCS-2: 320 octets

    async def phone(provider: Any) -> UssdScreen:
        return await smsc.ussd.dial("998901234567", "*123#").screen()

    _, screen = _walk(smsc, lambda request: (long_text, False), phone)
    assert screen.text == long_text


def test_hops_of_many_sessions_at_once_each_get_their_own_answer(smsc: SmscSimulator) -> None:
    async def phone(provider: Any) -> list[str]:
        calls = [smsc.ussd.dial(f"99890{n:07d}", "*123#") for n in range(30)]
        firsts = await asyncio.gather(*(c.screen() for c in calls))
        assert all(not s.ends for s in firsts)
        for n, call in enumerate(calls):
            call.reply(str(n))
        return [s.text for s in await asyncio.gather(*(c.screen() for c in calls))]

    _, texts = _walk(smsc, _menu, phone)
    assert texts == [f"You chose {n}" for n in range(30)]
