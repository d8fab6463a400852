"""The /ussd/<gateway> endpoint whatever the gateway's kind, over real HTTP: who may call it (the
gateway's token, in the query or a header, never logged), what it answers to the wrong caller or
method, and that a hop waits on the database off the IO loop."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

import pytest
from sqlalchemy import insert, text

from engage.engine.store.schema import Provider
from tests.fixtures.web import serving
from tests.off_loop_checks import assert_sign_in_answers_at_once, in_background
from tests.ussd_gateway_setup import CODE, HOME, gateway, post_form, put_menu

REFUSED = {"error": "no USSD gateway by this name takes this token"}


def _open(base: str, path: str, headers: dict[str, str] | None = None):  # noqa: ANN202
    return post_form(base, path, {"sessionId": "S1", "serviceCode": CODE, "phoneNumber": "+254711000111",
                                  "text": ""}, headers)


def test_an_unknown_gateway_is_refused_with_403(site):
    _, base = site
    answer = _open(base, "/ussd/nobody?token=x")
    assert (answer.status, answer.json()) == (403, REFUSED)


def test_a_wrong_token_gets_the_same_403_as_an_unknown_gateway(site):
    engine, base = site
    gateway(engine, "africastalking", "at")
    answer = _open(base, "/ussd/at?token=not-the-token")
    assert (answer.status, answer.json()) == (403, REFUSED)


def test_the_token_may_come_in_the_x_gateway_token_header(site):
    engine, base = site
    put_menu(engine)
    _, token = gateway(engine, "africastalking", "at")
    answer = _open(base, "/ussd/at", {"X-Gateway-Token": token})
    assert (answer.status, answer.text) == (200, "CON " + HOME)


def test_an_smpp_gateway_takes_no_hops_over_http(site):
    engine, base = site
    with engine.begin() as conn:
        conn.execute(insert(Provider.__table__).values(name="mts", kind="smpp", config={}, tps=10, priority=1,
                                                       enabled=True))
    _, token = gateway(engine, "smpp", "mts-ussd", provider="mts")
    assert _open(base, f"/ussd/mts-ussd?token={token}").status == 403


def test_a_get_is_refused_with_405(site):
    engine, base = site
    _, token = gateway(engine, "africastalking", "at")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/ussd/at?token={token}", timeout=10)
    assert refused.value.code == 405


def test_the_access_log_never_shows_the_token(site, caplog):
    engine, base = site
    put_menu(engine)
    _, token = gateway(engine, "africastalking", "at")
    with caplog.at_level(logging.INFO, logger="tornado.access"):
        assert _open(base, f"/ussd/at?token={token}").status == 200
        assert _open(base, "/ussd/at?token=guess").status == 403
        urllib.request.urlopen(base + "/login", timeout=10).read()  # logged after its answer: the two before, before
    logged = [r.getMessage() for r in caplog.records if r.name == "tornado.access" and "/ussd/" in r.getMessage()]
    assert len(logged) == 2 and not any("token" in line or "guess" in line for line in logged)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_hop_waiting_on_the_database_leaves_the_sign_in_page_answering(engine):
    put_menu(engine)
    _, token = gateway(engine, "africastalking", "at")
    with serving(engine) as base, engine.connect() as holder:
        holder.execute(text("LOCK TABLE ussd_sessions IN ACCESS EXCLUSIVE MODE"))  # the hop waits on it
        with in_background(lambda: _open(base, f"/ussd/at?token={token}")) as answered:
            try:
                assert_sign_in_answers_at_once(base, held=answered)
            finally:
                holder.rollback()
    assert (answered[0].status, answered[0].text) == (200, "CON " + HOME)
