"""Subscribers' messages (MOs) from HTTP gateways, at /callbacks/<kind>/<provider id>/mo, through the
web app over real HTTP into a real database: stored as inbound for their provider, then handled by
the keywords as the MOs of SMPP binds are (STOP opts out), before the gateway is answered."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from engage.engine.providers import MalformedCallback
from engage.engine.providers.http_json import MAX_INBOUND, read_inbound
from engage.engine.providers.kannel import read_mo
from engage.engine.store.schema import Event, InboundMessage, OptOut
from tests.database_refusals import refuse
from tests.test_http_callbacks import TOKEN, add_provider

NUMBER = "+998901234567"


def post(url: str, payload: Any, token: str = TOKEN) -> tuple[int, dict[str, Any]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Callback-Token": token})
    return _open(request)


def _open(request: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def fetch(url: str) -> tuple[int, str, bytes]:
    """(status, Content-Type, body) of a GET, as smsbox fetches a get-url."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def inbound(engine) -> list[Any]:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(InboundMessage.__table__).order_by(InboundMessage.id)).all()


def opted_out(engine, number: str = NUMBER) -> bool:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(OptOut.msisdn).where(OptOut.msisdn == number, OptOut.channel == "sms")
                            ).first() is not None


def mo_url(base: str, provider: dict[str, Any], kind: str = "http") -> str:
    return f"{base}/callbacks/{kind}/{provider['id']}/mo"


def kannel_get_url(base: str, provider: dict[str, Any], text: bytes, **args: str) -> str:
    """The get-url smsbox calls, its escapes filled in as Kannel fills them (the text's octets)."""
    query = {"token": TOKEN, "from": NUMBER.lstrip("+"), "to": "1234", "coding": "0", "charset": "UTF-8",
             "smsc": "sim", "id": "3b1e5c1a-0a0d-4a8e-9f7b-2b8c6f0d1e2f", "time": "1767225600", **args}
    return (f"{mo_url(base, provider, 'kannel')}?{urllib.parse.urlencode(query)}"
            f"&text={urllib.parse.quote_from_bytes(text, safe='')}")


def test_a_json_mo_is_stored_as_inbound_for_its_provider_and_handled_before_the_answer(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    status, body = post(mo_url(base, provider), {"from": NUMBER, "to": "1234", "text": "Hello there"})
    assert (status, body) == (200, {"stored": 1})
    [mo] = inbound(engine)
    assert (mo.provider_id, mo.source, mo.destination, mo.text, mo.handled) == (
        provider["id"], NUMBER, "1234", "Hello there", True)


def test_stop_posted_as_a_json_mo_opts_the_number_out(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    assert post(mo_url(base, provider), {"from": NUMBER, "to": "1234", "text": " Stop! ", "id": "mo-1",
                                         "received_at": "2026-01-01T10:00:00Z"})[0] == 200
    assert opted_out(engine)


def test_a_list_of_json_mos_is_stored_in_one_callback(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    mos = [{"from": f"+99890123456{i}", "to": "1234", "text": f"hi {i}", "received_at": 1767225600 + i}
           for i in range(3)]
    assert post(mo_url(base, provider), mos) == (200, {"stored": 3})
    assert [(m.source, m.text) for m in inbound(engine)] == [(m["from"], m["text"]) for m in mos]


def test_a_json_mo_the_gateway_sends_again_is_kept_and_acts_once(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    mo = {"from": NUMBER, "to": "1234", "text": "STOP", "id": "gw-77"}
    assert post(mo_url(base, provider), mo)[0] == 200
    assert post(mo_url(base, provider), mo)[0] == 200
    first, again = inbound(engine)
    assert (first.duplicate_of, again.duplicate_of) == (None, first.id)
    with engine.connect() as conn:
        told = [e.data for e in conn.execute(select(Event).where(Event.kind == "keyword").order_by(Event.id))]
    assert [t.get("duplicate_of") for t in told] == [None, first.id] and opted_out(engine)


def _age_all(engine, minutes: int) -> None:  # noqa: ANN001
    """Every stored MO as if it had come ``minutes`` ago: past the two-minute window of a repeated text."""
    with engine.begin() as conn:
        for row in conn.execute(select(InboundMessage.id, InboundMessage.received_at)).all():
            conn.execute(update(InboundMessage).where(InboundMessage.id == row.id).values(
                received_at=row.received_at - timedelta(minutes=minutes)))


def test_a_json_mo_sent_again_with_its_id_long_after_is_still_a_repeat_and_acts_once(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    mo = {"from": NUMBER, "to": "1234", "text": "STOP", "id": "gw-78"}
    assert post(mo_url(base, provider), mo)[0] == 200
    post(mo_url(base, provider), {"from": NUMBER, "to": "1234", "text": "START"})
    _age_all(engine, 30)
    assert post(mo_url(base, provider), mo)[0] == 200  # the gateway's retry half an hour late
    first, start, again = inbound(engine)
    assert (first.provider_ref, again.provider_ref, again.duplicate_of) == ("gw-78", "gw-78", first.id)
    assert not opted_out(engine)  # the late STOP did not undo the START in between


def test_the_same_text_with_another_id_long_after_is_a_new_mo(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    assert post(mo_url(base, provider), {"from": NUMBER, "to": "1234", "text": "STOP", "id": "gw-1"})[0] == 200
    post(mo_url(base, provider), {"from": NUMBER, "to": "1234", "text": "START", "id": "gw-2"})
    _age_all(engine, 30)
    assert post(mo_url(base, provider), {"from": NUMBER, "to": "1234", "text": "STOP", "id": "gw-3"})[0] == 200
    assert [m.duplicate_of for m in inbound(engine)] == [None, None, None] and opted_out(engine)


def test_a_kannel_mo_fetched_again_with_its_id_long_after_is_a_repeat(site):
    engine, base = site
    provider = add_provider(engine, "kannel", base)
    assert fetch(kannel_get_url(base, provider, b"JOIN"))[0] == 200
    _age_all(engine, 30)
    assert fetch(kannel_get_url(base, provider, b"JOIN"))[0] == 200
    first, again = inbound(engine)
    assert first.provider_ref == "3b1e5c1a-0a0d-4a8e-9f7b-2b8c6f0d1e2f" and again.duplicate_of == first.id


@pytest.mark.parametrize(("payload", "words"), [
    (b"not json", "body: not JSON"),
    ([{"from": NUMBER, "to": "1234", "text": "ok"}, {"to": "1234", "text": "hi"}], "message 1: from: missing"),
    ({"from": NUMBER, "text": "hi"}, "to: missing"),
    ({"from": NUMBER, "to": "1234", "text": 5}, "text: missing"),
    ({"from": "+" + "9" * 40, "to": "1234", "text": "hi"}, "from: 41 characters"),
    ({"from": "+99890\n1234567", "to": "1234", "text": "hi"}, "from: "),
    ([{"from": NUMBER, "to": "1234", "text": "hi", "received_at": "yesterday"}], "message 0: received_at: "),
    ({"from": NUMBER, "to": "1234", "text": "hi", "id": "x" * 80}, "id: 80 characters"),
    (["STOP"], "message 0: a message must be a JSON object"),
    ([{"from": NUMBER, "to": "1234", "text": "hi"}] * (MAX_INBOUND + 1), f"at most {MAX_INBOUND}"),
], ids=["not-json", "second-without-from", "no-to", "text-not-text", "long-from", "control-in-from",
        "bad-time", "long-id", "not-an-object", "too-many"])
def test_a_malformed_json_mo_is_a_400_naming_the_field_and_the_message_and_stores_nothing(site, payload, words):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    status, body = post(mo_url(base, provider), payload)
    assert status == 400 and words in body["error"], body
    assert inbound(engine) == []


def test_a_json_mo_with_a_wrong_token_is_refused_and_stores_nothing(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    status, body = post(mo_url(base, provider), {"from": NUMBER, "to": "1234", "text": "STOP"},
                        token="wrong-token-0123456789")
    assert status == 403 and "token" in body["error"]
    assert inbound(engine) == [] and not opted_out(engine)


def test_an_mo_callback_is_404_where_no_kind_takes_them_and_405_by_a_method_the_kind_does_not_use(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    assert post(f"{base}/callbacks/pigeon/{provider['id']}/mo", {})[0] == 404
    status, _, body = fetch(f"{mo_url(base, provider)}?token={TOKEN}")
    assert status == 405 and b"POST" in body


def test_an_mo_the_database_refuses_is_a_503_for_its_gateway_and_the_next_one_is_stored(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    refuse(engine, "inbound_messages", "text", "poison")
    status, body = post(mo_url(base, provider), {"from": NUMBER, "to": "1234", "text": "poison"})
    assert status == 503 and "retry" in body["error"]
    assert post(mo_url(base, provider), {"from": NUMBER, "to": "1234", "text": "STOP"})[0] == 200
    assert [m.text for m in inbound(engine)] == ["STOP"] and opted_out(engine)


def test_a_kannel_mo_is_answered_200_with_nothing_for_smsbox_to_send_back(site):
    engine, base = site
    provider = add_provider(engine, "kannel", base)
    status, content_type, body = fetch(kannel_get_url(base, provider, b"STOP"))
    assert (status, content_type.split(";")[0], body) == (200, "text/plain", b"")
    [mo] = inbound(engine)
    assert (mo.provider_id, mo.source, mo.destination, mo.text) == (provider["id"], NUMBER.lstrip("+"), "1234", "STOP")
    assert opted_out(engine)


def test_a_kannel_ucs2_mo_is_read_in_the_charset_kannel_names(site):
    engine, base = site
    provider = add_provider(engine, "kannel", base)
    url = kannel_get_url(base, provider, "СТОП".encode("utf-16-be"), coding="2", charset="UTF-16BE")
    assert fetch(url)[0] == 200
    assert [m.text for m in inbound(engine)] == ["СТОП"] and opted_out(engine)


def test_a_kannel_mo_whose_escapes_smsbox_did_not_fill_is_a_400_naming_the_field(site):
    engine, base = site
    provider = add_provider(engine, "kannel", base)
    url = f"{mo_url(base, provider, 'kannel')}?token={TOKEN}&from=%25p&to=1234&text=hi"
    status, _, body = fetch(url)
    assert status == 400 and "from: got the unsubstituted escape %p" in json.loads(body)["error"]
    assert inbound(engine) == []


@pytest.mark.parametrize(("raw", "args", "text"), [
    (b"caf\xc3\xa9", {}, "café"),  # GSM-7 text, as smsbox has it: UTF-8
    ("Привет".encode("utf-16-be"), {"coding": "2"}, "Привет"),  # UCS-2 without %C: its coding says
    (b"\x01\xff", {"coding": "1", "charset": "8-BIT"}, "\x01\xff"),  # 8-bit data: octet by octet
    (b"a\x00b", {}, "a\ufffdb"),  # what the database cannot hold becomes U+FFFD; the rest is kept
    (b"\xff\xfe", {"charset": "UTF-8"}, "\ufffd\ufffd"),  # not of its charset: kept, marked
])
def test_kannel_mo_text_is_read_by_its_charset_or_its_coding(raw, args, text):
    [mo] = read_mo({"from": "998901234567", "to": "1234", **args}, {"text": raw})
    assert mo["text"] == text


@pytest.mark.parametrize(("args", "words"), [
    ({"to": "1234"}, "from: missing"),
    ({"from": "998901234567", "to": "%P"}, "to: got the unsubstituted escape %P"),
    ({"from": "998901234567", "to": "1234", "charset": "KLINGON"}, "charset: 'KLINGON'"),
    ({"from": "998901234567", "to": "1234", "coding": "7"}, "coding: '7'"),
    ({"from": "998901234567", "to": "1234", "time": "soon"}, "time: 'soon'"),
])
def test_a_kannel_mo_that_cannot_be_read_names_the_field(args, words):
    with pytest.raises(MalformedCallback, match=words):
        read_mo(args, {"text": b"hi"})


def test_a_json_mo_text_keeps_what_the_database_cannot_hold_as_a_replacement_character():
    [mo] = read_inbound(json.dumps({"from": 998901234567, "to": "1234", "text": "a\u0000b"}).encode())
    assert (mo["source"], mo["text"]) == ("998901234567", "a\ufffdb")
