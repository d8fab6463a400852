"""The drop-off funnel of a menu: for each screen, the sessions that reached it and those that
ended there, having finished or given up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engage.engine.ussd import emulator, sessions
from engage.engine.ussd.funnel import funnel
from tests.ussd_helpers import Phone, put_menu

MENU = """
    screens:
      home:
        type: menu
        text: Hi
        options:
          - label: Ask
            next: ask
          - label: Bye
            next: bye
      ask:
        type: input
        text: Amount?
        validate: {kind: amount, min: 1, max: 9}
        save: amount
        next: check
      check:
        type: router
        routes:
          - if: "amount | int > 5"
            next: big
        default: bye
      big:
        type: end
        text: Big
      bye:
        type: end
        text: Bye
"""


@pytest.fixture
def menu_id(engine):
    return put_menu(engine, MENU)


def report(engine, menu_id, **window):
    with engine.connect() as conn:
        return funnel(conn, menu_id, **window)


def rows(found):
    return {s["screen"]: (s["reached"], s["completed"], s["abandoned"]) for s in found["screens"]}


def test_each_screen_counts_the_sessions_that_reached_it_and_ended_there(engine, menu_id):
    Phone(engine).walk("2")  # home -> bye
    Phone(engine).walk("1", "7")  # home -> ask -> check -> big
    Phone(engine).walk("1", "3")  # home -> ask -> check -> bye
    gave_up = Phone(engine)
    gave_up.walk("1")  # left on ask
    gave_up.idle_for(200)
    found = report(engine, menu_id)
    assert (found["sessions"], found["open"]) == (4, 0)
    assert rows(found) == {"home": (4, 0, 0), "ask": (3, 0, 1), "check": (2, 0, 0), "big": (1, 1, 0),
                            "bye": (2, 2, 0)}


def test_a_session_still_going_is_counted_open_not_dropped(engine, menu_id):
    Phone(engine).walk("1")
    found = report(engine, menu_id)
    assert found["open"] == 1
    assert rows(found)["ask"] == (1, 0, 0)


def test_the_funnel_counts_the_sessions_started_in_its_window(engine, menu_id):
    Phone(engine).walk("2")
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert report(engine, menu_id, since=later)["sessions"] == 0
    assert report(engine, menu_id, until=later)["sessions"] == 1


def test_a_menu_that_does_not_exist_has_no_funnel(engine):
    assert report(engine, 404) is None


def test_sessions_staff_try_in_the_emulator_or_the_terminal_are_counted_apart_not_in_the_funnel(engine, menu_id):
    Phone(engine).walk("2")
    with engine.begin() as conn:
        terminal = sessions.terminal_gateway(conn)
    Phone(engine, gateway=terminal).walk("1")
    Phone(engine, gateway=emulator.gateway(engine)).walk("2")
    found = report(engine, menu_id)
    assert (found["sessions"], found["tests"]) == (1, 2)
    assert rows(found)["home"] == (1, 0, 0) and rows(found)["ask"] == (0, 0, 0)
