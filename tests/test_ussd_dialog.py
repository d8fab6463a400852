"""A subscriber walking a menu through dialog.step, the door every gateway uses, on SQLite and
PostgreSQL: screens, hints that keep the session, back and home, replays, idle expiry, shortcut
codes, languages and the ussd_step event of every hop."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from engage.engine.store.schema_ussd import UssdMenu
from engage.engine.ussd import dialog, sessions
from engage.engine.ussd.dialog import Hop, UssdError, step
from engage.engine.ussd.validators import VALIDATORS, validator
from tests.ussd_helpers import Phone, add_subscriber, put_menu, steps

MENU = """
    name: Club
    language: en
    screens:
      home:
        type: menu
        text:
          en: "Hi {{ first_name | default('friend') }}"
          ru: "Привет, {{ first_name | default('друг') }}"
        options:
          - label: {en: Profile, ru: Профиль}
            next: profile
          - label: {en: Birthday, ru: День рождения}
            next: birthday
          - label: {en: Exit, ru: Выход}
            next: bye
      profile:
        type: menu
        text: Profile
        options:
          - label: Number
            next: number
          - label: Back home
            next: home
      number:
        type: text
        text: "Your number is {{ msisdn }}"
        next: bye
      birthday:
        type: input
        text: Birthday (DD.MM.YYYY)?
        validate: {kind: date, past: true}
        next: thanks
      thanks:
        type: end
        text: "Saved {{ birthday }}"
      bye:
        type: end
        text: {en: Bye, ru: Пока}
"""


@pytest.fixture
def club(engine):
    put_menu(engine, MENU)
    return engine


def test_the_first_hop_shows_the_first_screen_with_numbered_options(club):
    screen = Phone(club).dial()
    assert screen.text == "Hi friend\n1. Profile\n2. Birthday\n3. Exit"
    assert not screen.ends


def test_an_option_leads_to_its_screen(club):
    assert Phone(club).walk("1").text == "Profile\n1. Number\n2. Back home"


def test_an_end_screen_ends_the_session(club):
    phone = Phone(club)
    screen = phone.walk("3")
    assert (screen.text, screen.ends) == ("Bye", True)
    row = phone.session()
    assert row["ended_at"] is not None and row["end_reason"] == "completed"


def test_an_unknown_option_shows_the_screen_again_under_a_hint(club):
    phone = Phone(club)
    phone.dial()
    screen = phone.send("7")
    assert screen.text == "Invalid choice, please try again.\nHi friend\n1. Profile\n2. Birthday\n3. Exit"
    assert not screen.ends
    assert phone.send("1").text.startswith("Profile")


def test_text_that_is_not_a_number_is_an_unknown_option_too(club):
    phone = Phone(club)
    phone.dial()
    assert phone.send("hello").text.startswith("Invalid choice")
    assert phone.session()["ended_at"] is None


def test_input_failing_its_validator_says_why_and_asks_again(club):
    phone = Phone(club)
    phone.walk("2")
    screen = phone.send("31.02.1990")
    assert screen.text == "Enter a date as DD.MM.YYYY.\nBirthday (DD.MM.YYYY)?"
    assert not screen.ends
    assert phone.send("17.05.1990").text == "Saved 1990-05-17"


def test_zero_goes_back_one_screen(club):
    phone = Phone(club)
    phone.walk("1", "1")
    assert phone.send("0").text.startswith("Profile")
    assert phone.send("0").text.startswith("Hi friend")


def test_zero_on_the_first_screen_stays_there(club):
    phone = Phone(club)
    phone.dial()
    assert phone.send("0").text.startswith("Hi friend")


def test_zero_zero_goes_home_and_forgets_the_way_there(club):
    phone = Phone(club)
    phone.walk("1", "1")
    assert phone.send("00").text.startswith("Hi friend")
    assert phone.session()["history"] == []


def test_zero_goes_back_from_an_input_screen(club):
    phone = Phone(club)
    phone.walk("2")
    assert phone.send("0").text.startswith("Hi friend")


def test_a_replayed_request_gets_the_same_screen_and_changes_nothing(club):
    phone = Phone(club)
    phone.dial(replay_key="r0")
    first = phone.send("2", replay_key="r1")
    again = phone.send("2", replay_key="r1")  # as an answer to the birthday screen, "2" would be refused
    assert again == first
    assert len(steps(club)) == 2
    assert phone.send("17.05.1990", replay_key="r2").text == "Saved 1990-05-17"


def test_a_replayed_first_hop_gets_the_same_screen(club):
    phone = Phone(club)
    assert phone.dial(replay_key="open") == phone.dial(replay_key="open")
    assert len(steps(club)) == 1


def test_an_answer_to_a_session_idle_over_180_seconds_gets_an_end_saying_it_expired(club):
    phone = Phone(club)
    phone.dial()
    phone.idle_for(181)
    screen = phone.send("3")
    assert screen.ends
    assert screen.text == "Your session has expired. Please dial *123# again."
    row = phone.session()
    assert row["end_reason"] == "expired" and row["screen"] == "home"


def test_a_session_idle_under_180_seconds_goes_on(club):
    phone = Phone(club)
    phone.dial()
    phone.idle_for(170)
    assert phone.send("1").text.startswith("Profile")


def test_dialling_again_with_the_key_of_an_expired_session_starts_over(club):
    phone = Phone(club)
    phone.walk("1")
    phone.idle_for(200)
    assert phone.dial().text.startswith("Hi friend")
    assert phone.send("2").text.startswith("Birthday")
    row = phone.session()
    assert row["ended_at"] is None and row["visited"] == ["home", "birthday"]


def test_the_sweep_ends_idle_sessions_only(club):
    idle, busy = Phone(club), Phone(club)
    idle.dial()
    busy.dial()
    idle.idle_for(300)
    with club.begin() as conn:
        assert sessions.expire_idle(conn) == 1
    assert idle.session()["end_reason"] == "expired"
    assert busy.session()["ended_at"] is None


def test_an_answer_to_an_ended_session_gets_the_expired_end(club):
    phone = Phone(club)
    phone.walk("3")
    assert phone.send("1").text.startswith("Your session has expired")


def test_an_answer_to_a_session_that_never_existed_is_refused(club):
    phone = Phone(club)
    with pytest.raises(UssdError, match="does not exist"):
        phone.send("1")


def test_a_hop_with_garbage_fields_is_refused_naming_the_field(club):
    phone = Phone(club)
    with pytest.raises(UssdError, match="session_key: empty"):
        step(club, Hop(phone.gateway, " ", phone.msisdn, "*123#", None))
    with pytest.raises(UssdError, match="answer: over 182"):
        step(club, Hop(phone.gateway, "k", phone.msisdn, "*123#", "1" * 500))
    with pytest.raises(UssdError, match="code: control characters"):
        step(club, Hop(phone.gateway, "k", phone.msisdn, "*123\x00#", None))


def test_a_code_no_menu_serves_gets_a_polite_end(club):
    screen = Phone(club, code="*999#").dial()
    assert screen.ends
    assert screen.text == "This service is not available. Please check the code you dialled."


def test_digits_dialled_past_the_code_walk_the_menu(club):
    assert Phone(club, code="*123*1*1#").dial().text == "Your number is +998901234567"


def test_a_shortcut_stops_at_an_option_that_does_not_exist(club):
    screen = Phone(club, code="*123*9*1#").dial()
    assert screen.text.startswith("Invalid choice") and not screen.ends


def test_a_longer_code_with_a_menu_of_its_own_is_that_menu(club):
    put_menu(club, """
        screens:
          only:
            type: end
            text: Direct
    """, code="*123*5#", name="Direct")
    assert Phone(club, code="*123*5#").dial().text == "Direct"


def test_the_subscribers_language_and_fields_are_used(club):
    add_subscriber(club, "+998901111111", first_name="Dilnoza", language="ru")
    assert Phone(club, msisdn="998901111111").dial().text.startswith("Привет, Dilnoza")


def test_a_language_the_menu_lacks_falls_back_to_its_default(club):
    add_subscriber(club, "+998902222222", language="uz")
    assert Phone(club, msisdn="+998902222222").dial().text.startswith("Hi friend")


def test_a_number_is_read_in_e164(club):
    phone = Phone(club, msisdn="998901234567")
    phone.dial()
    assert phone.session()["msisdn"] == "+998901234567"


def test_every_hop_writes_a_ussd_step_event(club):
    phone = Phone(club)
    phone.walk("7", "2", "17.05.1990")
    events = steps(club)
    assert [(e["screen"], e["input"], e["ends"], e.get("note")) for e in events] == [
        ("home", None, False, None), ("home", "7", False, "invalid_option"), ("birthday", "2", False, None),
        ("thanks", "17.05.1990", True, None)]
    session_id = phone.session()["id"]
    assert all(e["menu"] == "Club" and e["session"] == session_id and e["duration_ms"] >= 0 for e in events)


def test_a_menu_saved_again_is_served_at_the_next_hop(club):
    phone = Phone(club)
    phone.dial()
    put_menu(club, MENU.replace("text: Profile", "text: Your profile"))
    assert phone.send("1").text.startswith("Your profile")


def test_a_menu_switched_off_mid_session_ends_it_politely(club):
    phone = Phone(club)
    phone.dial()
    with club.begin() as conn:
        conn.execute(update(UssdMenu).values(active=False))
    screen = phone.send("1")
    assert screen.ends and screen.text.startswith("This service is not available")


def test_the_pin_is_masked_in_events_and_not_kept(engine):
    put_menu(engine, """
        screens:
          pin:
            type: input
            text: PIN?
            validate: pin
            next: amount
          amount:
            type: input
            text: Amount?
            validate: {kind: amount, min: 1, max: 10}
            next: done
          done:
            type: end
            text: Done
    """)
    phone = Phone(engine)
    phone.walk("12", "4321")
    assert [e["input"] for e in steps(engine)] == [None, "**", "****"]
    assert "pin" not in phone.session()["values"]


def test_a_fault_inside_the_engine_ends_the_session_politely_instead_of_raising(engine):
    @validator("test_broken", lambda params: None)
    def broken(text, params, reading):
        raise RuntimeError("a bug")

    try:
        put_menu(engine, """
            screens:
              ask:
                type: input
                text: Anything?
                validate: test_broken
                next: done
              done:
                type: end
                text: Done
        """)
        phone = Phone(engine)
        screen = phone.walk("1")
        assert screen.ends and screen.text == "Sorry, something went wrong. Please try again later."
        assert phone.session()["end_reason"] == "error"
    finally:
        del VALIDATORS["test_broken"]


def test_a_hop_a_minute_after_the_last_sweep_ends_the_idle_sessions(club):
    idle = Phone(club)
    idle.walk("2")
    idle.idle_for(300)
    dialog._swept[0] = 0.0  # the process's last sweep was long ago
    Phone(club).dial()
    row = idle.session()
    assert (row["end_reason"], row["values"]) == ("expired", {})
