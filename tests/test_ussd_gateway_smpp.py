"""USSD over SMPP end to end, on the embedded default and on PostgreSQL + RabbitMQ: the SMSC
simulator dials a code over real TCP, the send worker's SMPP provider hands the hop to the USSD
engine through the provider's smpp gateway, and each screen comes back on the provider's bind
(USSR request while the menu waits for an answer, PSSR response at its end)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from engage.engine.providers.records import add_smpp
from engage.engine.store.schema import InboundMessage
from engage.simulators.smsc import SmscSimulator
from engage.workers import runner
from tests.ussd_gateway_setup import HOME, gateway, hop_events, put_menu


@pytest.fixture
def ussd_over_smpp(backend, smsc: SmscSimulator) -> Iterator[tuple[object, SmscSimulator]]:
    """A menu on *123#, an SMPP provider bound to the simulator with a USSD gateway, the send worker."""
    engine, broker_url, _ = backend
    put_menu(engine)
    with engine.begin() as conn:
        add_smpp(conn, name="sim", host="127.0.0.1", port=smsc.port, system_id="engage", password="secret",
                 actor="test")
    gateway(engine, "smpp", "sim-ussd", provider="sim")
    stop = threading.Event()
    threads = runner.start(["send"], engine, broker_url, stop)
    try:
        yield engine, smsc
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def test_a_dialled_code_shows_the_menu_and_an_answer_walks_it_to_its_end(ussd_over_smpp):
    _, sim = ussd_over_smpp
    call = sim.ussd.dial("+998901234567", "*123#")
    home = call.next_screen(timeout=30)
    call.reply("1")
    last = call.next_screen(timeout=30)
    assert (home.text, home.op, home.ends) == (HOME, 2, False)
    assert (last.text, last.op, last.ends) == ("Your balance is 120 points.", 17, True)
    assert last.its_session_info >> 8 == call.session


def test_an_input_answer_reaches_the_menu_whole(ussd_over_smpp):
    _, sim = ussd_over_smpp
    call = sim.ussd.dial("998901234567", "*123#")
    call.next_screen(timeout=30)
    call.reply("2")
    assert call.next_screen(timeout=30).text == "Enter a code"
    call.reply("4*2")
    assert call.next_screen(timeout=30).text == "You picked 4*2"


def test_a_shortcut_dialled_past_the_code_goes_straight_to_its_screen(ussd_over_smpp):
    _, sim = ussd_over_smpp
    assert sim.ussd.dial("998901234567", "*123*2#").next_screen(timeout=30).text == "Enter a code"


def test_an_smsc_that_numbers_no_sessions_is_served_by_the_subscribers_address(ussd_over_smpp):
    _, sim = ussd_over_smpp
    call = sim.ussd.dial("998901234567", "*123#", session_info=False)
    call.next_screen(timeout=30)
    call.reply("1")
    last = call.next_screen(timeout=30)
    assert (last.text, last.ends, last.its_session_info) == ("Your balance is 120 points.", True, None)


def test_every_hop_is_a_ussd_step_event_and_none_is_stored_as_an_sms(ussd_over_smpp):
    engine, sim = ussd_over_smpp
    call = sim.ussd.dial("998901234567", "*123#")
    call.next_screen(timeout=30)
    call.reply("1")
    call.next_screen(timeout=30)
    assert hop_events(engine) == 2
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(InboundMessage)).scalar_one() == 0


def test_a_code_the_smsc_sends_without_its_star_and_hash_still_reaches_its_menu(ussd_over_smpp):
    _, sim = ussd_over_smpp
    assert sim.ussd.dial("998901234567", "123").next_screen(timeout=30).text == HOME
