"""Africa's Talking through POST /ussd/<gateway> over real HTTP, on both databases: a form per hop
whose text is the whole path of answers, answered "CON ..." or "END ..."."""

from __future__ import annotations

import pytest

from engage.engine.ussd.gateways.africastalking import latest_answer, path_key, previous_path
from tests.ussd_gateway_setup import CODE, HOME, gateway, hop_events, post_form, put_menu


@pytest.fixture
def at(site):
    """(engine, base URL, a function posting one hop of session S1 with the given text)."""
    engine, base = site
    put_menu(engine)
    _, token = gateway(engine, "africastalking", "at")

    def hop(text: str, session: str = "S1", **extra: str):  # noqa: ANN202
        fields = {"sessionId": session, "serviceCode": CODE, "phoneNumber": "+254711000111",
                  "networkCode": "63902", "text": text, **extra}
        return post_form(base, f"/ussd/at?token={token}", fields)

    return engine, base, hop


def test_dialling_opens_the_menu_with_a_con_screen(at):
    _, _, hop = at
    answer = hop("")
    assert (answer.status, answer.text) == (200, "CON " + HOME)
    assert answer.content_type.startswith("text/plain")


def test_the_path_walks_the_menu_to_an_end_screen(at):
    _, _, hop = at
    hop("")
    assert hop("1").text == "END Your balance is 120 points."


def test_the_latest_answer_is_what_the_path_adds_even_when_it_holds_a_star(at):
    _, _, hop = at
    hop("")
    assert hop("2").text == "CON Enter a code"
    assert hop("2*5*5").text == "END You picked 5*5"


def test_a_replayed_request_gets_the_same_answer_and_moves_nothing(at):
    engine, _, hop = at
    hop("")
    first = hop("2")
    events = hop_events(engine)
    again = hop("2")
    assert (again.status, again.text) == (200, first.text)
    assert hop_events(engine) == events
    assert hop("2*7").text == "END You picked 7"


def test_an_answer_in_a_session_never_opened_is_a_400_saying_so(at):
    _, _, hop = at
    answer = hop("1", session="never-opened")
    assert answer.status == 400 and "does not exist" in answer.text


def test_a_request_without_a_phone_number_is_a_400_naming_the_field(at):
    _, _, hop = at
    answer = hop("", phoneNumber="")
    assert (answer.status, answer.text) == (400, "bad africastalking request to USSD gateway at: field "
                                                 "'phoneNumber' is empty")


def test_a_service_code_that_is_not_one_is_a_400_naming_the_field(at):
    _, _, hop = at
    answer = hop("", serviceCode="hello")
    assert answer.status == 400 and "field 'serviceCode': 'hello' is not a USSD service code" in answer.text


def test_a_path_too_long_to_keep_whole_is_keyed_by_its_digest_and_still_found_again():
    path = "1*" * 80 + "2"
    key = path_key(path)
    assert len(key) <= 128 and key != path_key(path + "*3")
    assert previous_path(path + "*3", key) == path


def test_without_the_previous_path_the_latest_answer_is_the_paths_last_step():
    assert latest_answer("1*2*3", None) == "3"
    assert latest_answer("1*2*3", "1") == "2*3"
