"""`engage ussd gateway add|list`, run as a person types them, on both databases: the callback path
with its token is printed once, and works; bad input is one line naming what is wrong."""

from __future__ import annotations

from sqlalchemy import insert

from engage.engine.store.schema import Provider
from tests.fixtures.web import serving
from tests.ussd_gateway_setup import CODE, HOME, post_form, put_menu


def test_adding_a_gateway_prints_a_callback_path_whose_token_opens_it(engine, engage_cli):
    code, out, _ = engage_cli("ussd", "gateway", "add", "--kind", "africastalking", "--name", "at")
    assert code == 0
    path = out[0]["callback_path"]
    assert path.startswith("/ussd/at?token=") and len(path) > len("/ussd/at?token=") + 30
    put_menu(engine)
    with serving(engine) as base:
        answer = post_form(base, path, {"sessionId": "S1", "serviceCode": CODE, "phoneNumber": "+254711000111",
                                        "text": ""})
    assert (answer.status, answer.text) == (200, "CON " + HOME)


def test_the_list_shows_each_gateway_and_no_token(engage_cli):
    _, added, _ = engage_cli("ussd", "gateway", "add", "--kind", "hubtel", "--name", "hubtel", "--max-chars", "80")
    code, listed, _ = engage_cli("ussd", "gateway", "list")
    token = added[0]["callback_path"].split("token=")[1]
    assert code == 0
    assert [(g["name"], g["kind"], g["config"], g["path"]) for g in listed] == \
        [("hubtel", "hubtel", {"max_chars": 80}, "/ussd/hubtel")]
    assert token not in str(listed)


def test_an_smpp_gateway_rides_on_an_smpp_provider(engine, engage_cli):
    with engine.begin() as conn:
        conn.execute(insert(Provider.__table__).values(name="mts", kind="smpp", config={}, tps=10, priority=1,
                                                       enabled=True))
    code, out, _ = engage_cli("ussd", "gateway", "add", "--kind", "smpp", "--name", "mts-ussd", "--provider", "mts")
    assert code == 0 and out[0]["config"] == {"provider": "mts"} and "callback_path" not in out[0]


def test_an_smpp_gateway_on_a_provider_that_does_not_exist_is_refused_naming_it(engage_cli):
    code, _, err = engage_cli("ussd", "gateway", "add", "--kind", "smpp", "--name", "x", "--provider", "nope")
    assert code == 2 and "no provider named 'nope'" in err


def test_an_unknown_kind_is_refused_listing_the_kinds(engage_cli):
    code, _, err = engage_cli("ussd", "gateway", "add", "--kind", "nalo", "--name", "x")
    assert code == 2 and "unknown USSD gateway kind 'nalo'; kinds: africastalking, hubtel, smpp" in err


def test_a_name_that_cannot_be_a_path_segment_is_refused(engage_cli):
    code, _, err = engage_cli("ussd", "gateway", "add", "--kind", "hubtel", "--name", "my gateway")
    assert code == 2 and "gateway name 'my gateway'" in err


def test_max_chars_outside_a_ussd_screen_is_refused_naming_it(engage_cli):
    code, _, err = engage_cli("ussd", "gateway", "add", "--kind", "hubtel", "--name", "h", "--max-chars", "500")
    assert code == 2 and "'max_chars' must be a whole number from 40 to 182" in err


def test_a_second_gateway_of_the_same_name_is_refused(engage_cli):
    engage_cli("ussd", "gateway", "add", "--kind", "hubtel", "--name", "h")
    code, _, err = engage_cli("ussd", "gateway", "add", "--kind", "africastalking", "--name", "h")
    assert code == 2 and "a USSD gateway named 'h' exists already" in err
