"""Hubtel through POST /ussd/<gateway> over real HTTP, on both databases: JSON with Type Initiation /
Response / Release / Timeout, answered in Hubtel's JSON (Type "Response" or "Release", Message)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.engine.store.schema import UssdSession
from tests.ussd_gateway_setup import HOME, gateway, hop_events, post_json, put_menu


@pytest.fixture
def hubtel(site):
    """(engine, a function posting one hop of session S1 with the given Type, Message and Sequence)."""
    engine, base = site
    put_menu(engine)
    _, token = gateway(engine, "hubtel", "hubtel")

    def hop(kind: str, message: str, sequence: int, session: str = "S1", **extra: object):  # noqa: ANN202
        body = {"Mobile": "233244123456", "SessionId": session, "ServiceCode": "123", "Type": kind,
                "Message": message, "Operator": "MTN", "Sequence": sequence, "ClientState": None, **extra}
        return post_json(base, f"/ussd/hubtel?token={token}", body)

    return engine, hop


def test_an_initiation_is_answered_with_the_menus_first_screen_as_a_response(hubtel):
    _, hop = hubtel
    answer = hop("Initiation", "*123#", 1)
    assert (answer.status, answer.json()) == (200, {"Type": "Response", "Message": HOME})
    assert answer.content_type.startswith("application/json")


def test_a_response_walks_the_menu_and_the_last_screen_is_a_release(hubtel):
    _, hop = hubtel
    hop("Initiation", "*123#", 1)
    assert hop("Response", "1", 2).json() == {"Type": "Release", "Message": "Your balance is 120 points."}


def test_the_string_dialled_at_initiation_takes_its_shortcut_digits(hubtel):
    _, hop = hubtel
    assert hop("Initiation", "*123*2#", 1).json() == {"Type": "Response", "Message": "Enter a code"}


def test_type_is_read_whatever_its_case(hubtel):
    _, hop = hubtel
    assert hop("initiation", "*123#", 1).json()["Message"] == HOME


def test_a_request_with_the_previous_sequence_again_gets_the_same_answer_and_moves_nothing(hubtel):
    engine, hop = hubtel
    hop("Initiation", "*123#", 1)
    first = hop("Response", "2", 2)
    events = hop_events(engine)
    assert hop("Response", "2", 2).json() == first.json() == {"Type": "Response", "Message": "Enter a code"}
    assert hop_events(engine) == events


def test_a_release_by_the_subscriber_is_acknowledged_with_an_empty_release(hubtel):
    engine, hop = hubtel
    hop("Initiation", "*123#", 1)
    events = hop_events(engine)
    assert hop("Release", "", 2).json() == {"Type": "Release", "Message": ""}
    assert hop_events(engine) == events


def test_a_body_that_is_not_json_is_a_400_saying_so(site):
    engine, base = site
    _, token = gateway(engine, "hubtel", "hubtel")
    answer = post_json(base, f"/ussd/hubtel?token={token}", b"{Type: Initiation")
    assert answer.status == 400 and "the body is not JSON" in answer.json()["error"]


def test_an_unknown_type_is_a_400_naming_the_field_and_the_types(hubtel):
    _, hop = hubtel
    answer = hop("Begin", "*123#", 1)
    assert answer.status == 400
    assert answer.json()["error"] == ("bad hubtel request to USSD gateway hubtel: field 'Type' must be one of "
                                      "Initiation, Response, Release, Timeout, not 'Begin'")


def test_a_sequence_that_is_not_a_number_is_a_400_naming_the_field(hubtel):
    _, hop = hubtel
    answer = hop("Initiation", "*123#", "first")  # type: ignore[arg-type]
    assert answer.status == 400 and "field 'Sequence' must be a whole number" in answer.json()["error"]


def test_a_mobile_that_is_not_text_is_a_400_naming_the_field(hubtel):
    _, hop = hubtel
    answer = hop("Initiation", "*123#", 1, Mobile=233244123456)
    assert answer.status == 400 and "field 'Mobile' must be text, not int" in answer.json()["error"]


def test_a_release_by_the_subscriber_ends_the_session_at_once(hubtel):
    engine, hop = hubtel
    hop("Initiation", "*123#", 1)
    hop("Release", "", 2)
    with engine.connect() as conn:
        ended = conn.execute(select(UssdSession.ended_at, UssdSession.end_reason)
                             .where(UssdSession.session_key == "S1")).one()
    assert ended.ended_at is not None and ended.end_reason == "release"
