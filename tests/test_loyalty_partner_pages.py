"""Partners over real HTTP: an admin adds a merchant and sees its API token on that answer only (the
token works on the partner API; the list then says only that one was issued), a marketer may not add
one but adds an exchange partner, mistakes named beside their fields; a partner's statement for a
chosen period on its page and as CSV; a replaced token shown once, the old one dead."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from engage.engine.loyalty import exchange, members, partners, programmes
from engage.engine.store.schema import AuditEntry, Subscriber
from tests.fixtures.web import serving, signed_in

MERCHANT = {"do": "merchant", "m_code": "cafe", "m_name": "Café Central", "earn_rate": "0.1", "currency": "USD",
            "burn_value": "0.01"}
EXCHANGE = {"do": "exchange", "x_code": "airmiles", "x_name": "Air Miles", "rate_in": "2", "rate_out": "0.5",
            "min_points": "100", "daily_limit": "10000"}
TOKEN = re.compile(r'<code id="token">(lyp_[A-Za-z0-9_-]+)</code>')


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    with engine.begin() as conn:
        club = programmes.create(conn, "club", "Club")
        conn.execute(insert(Subscriber.__table__).values(msisdn="+998901234567", attributes={}))
        members.enrol(conn, club.id, [conn.execute(select(Subscriber.id)).scalar_one()], "api")
    with serving(engine) as base:
        yield engine, base


def test_an_admin_adds_a_merchant_and_sees_its_token_once(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "admin")
    added = browser.post_form("/loyalty/club/partners", MERCHANT)
    assert added.status == 200
    token = TOKEN.search(added.body).group(1)
    with engine.connect() as conn:
        assert partners.resolve(conn, token).code == "cafe"
    again = browser.get("/loyalty/club/partners").body
    assert 'data-partner="cafe"' in again and "issued (not shown again)" in again and token not in again
    with engine.connect() as conn:
        details = conn.execute(select(AuditEntry.details).where(AuditEntry.action == "loyalty.partner.add")).scalar()
    assert details["code"] == "cafe" and token not in str(details)


def test_a_merchant_token_works_on_the_partner_api(web) -> None:  # noqa: ANN001
    engine, base = web
    token = TOKEN.search(signed_in(engine, base, "admin").post_form("/loyalty/club/partners", MERCHANT).body).group(1)
    request = urllib.request.Request(base + "/api/v1/loyalty/earn", method="POST", data=json.dumps({
        "msisdn": "+998901234567", "amount": "120", "transaction_id": "t-1"}).encode(), headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": "k-1", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["points"] == 12


def test_a_marketer_may_not_add_a_merchant(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "marketer")
    assert 'id="merchant-form"' not in browser.get("/loyalty/club/partners").body
    assert browser.post_form("/loyalty/club/partners", MERCHANT).status == 403


def test_a_merchant_mistake_is_named_beside_its_field_and_no_token_shown(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/partners", {**MERCHANT, "earn_rate": "-1"})
    assert page.status == 400 and 'id="error-earn_rate">earn_rate: a number above 0' in page.body
    assert 'id="token"' not in page.body and 'value="Café Central"' in page.body


def test_a_marketer_adds_an_exchange_partner(web) -> None:  # noqa: ANN001
    engine, base = web
    added = signed_in(engine, base, "marketer").post_form("/loyalty/club/partners", EXCHANGE)
    assert (added.status, added.headers["Location"]) == (303, "/loyalty/club/partners?added=airmiles")
    with engine.connect() as conn:
        made = exchange.get(conn, programmes.get(conn, "club").id, "airmiles")
    assert (made.min_points, made.daily_limit, made.rate_in) == (100, 10000, Decimal(2))


def test_an_exchange_daily_limit_under_the_minimum_is_named_beside_it(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/partners", {**EXCHANGE, "daily_limit": "50"})
    assert page.status == 400 and 'id="error-daily_limit">daily_limit: a whole number of points, at least' in page.body


def test_a_marketer_of_a_branch_may_not_add_a_partner(web) -> None:  # noqa: ANN001
    engine, base = web
    refused = signed_in(engine, base, "marketer", branch="north").post_form("/loyalty/club/partners", EXCHANGE)
    assert refused.status == 403


def test_a_merchants_statement_for_a_period_is_shown_and_downloaded(web) -> None:  # noqa: ANN001
    engine, base = web
    with engine.begin() as conn:
        partner, _ = partners.add_partner(conn, programmes.get(conn, "club").id, "cafe", "Café", "0.1", "USD", "0.01")
        partners.earn(conn, partner, "+998901234567", "120", "t-1", "k-1", now=datetime(2027, 3, 5, 12, tzinfo=UTC))
    browser = signed_in(engine, base, "analyst")
    page = browser.get("/loyalty/club/partners/merchant/cafe?from=2027-03-01&to=2027-03-31")
    assert page.status == 200 and 'data-line="issued">12<' in page.body
    assert 'data-line="issued-value">0.12 USD' in page.body
    outside = browser.get("/loyalty/club/partners/merchant/cafe?from=2027-04-01&to=2027-04-30")
    assert 'data-line="issued">0<' in outside.body
    csv = browser.get("/loyalty/club/partners/merchant/cafe/statement.csv?from=2027-03-01&to=2027-03-31")
    assert csv.headers["Content-Type"].startswith("text/csv") and "attachment" in csv.headers["Content-Disposition"]
    assert ",issued,1,12,," in csv.body


def test_an_exchange_partners_statement_is_downloaded_as_csv(web) -> None:  # noqa: ANN001
    engine, base = web
    with engine.begin() as conn:
        exchange.add(conn, programmes.get(conn, "club").id, "airmiles", "Air Miles", rate_in="2", rate_out="0.5")
    csv = signed_in(engine, base, "admin").get("/loyalty/club/partners/exchange/airmiles/statement.csv"
                                               "?from=2027-03-01&to=2027-03-31")
    assert csv.status == 200 and csv.body.startswith("exchange_partner,from,to,direction")


def test_a_period_that_ends_before_it_starts_is_named(web) -> None:  # noqa: ANN001
    engine, base = web
    with engine.begin() as conn:
        partners.add_partner(conn, programmes.get(conn, "club").id, "cafe", "Café", "0.1", "USD", "0.01")
    page = signed_in(engine, base, "admin").get("/loyalty/club/partners/merchant/cafe?from=2027-03-31&to=2027-03-01")
    assert page.status == 400 and "to: the last day is on or after the first" in page.body


def test_a_replaced_token_is_shown_once_and_the_old_one_stops_working(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "admin")
    old = TOKEN.search(browser.post_form("/loyalty/club/partners", MERCHANT).body).group(1)
    page = browser.post_form("/loyalty/club/partners/merchant/cafe", {"do": "token"})
    new = TOKEN.search(page.body).group(1)
    with engine.connect() as conn:
        assert partners.resolve(conn, old) is None and partners.resolve(conn, new).code == "cafe"
    assert new not in browser.get("/loyalty/club/partners/merchant/cafe").body


def test_a_marketer_may_not_replace_a_token(web) -> None:  # noqa: ANN001
    engine, base = web
    with engine.begin() as conn:
        partners.add_partner(conn, programmes.get(conn, "club").id, "cafe", "Café", "0.1", "USD", "0.01")
    assert signed_in(engine, base, "marketer").post_form("/loyalty/club/partners/merchant/cafe",
                                                         {"do": "token"}).status == 403


def test_an_unknown_partner_is_404(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "admin")
    assert browser.get("/loyalty/club/partners/merchant/nope").status == 404
    assert browser.get("/loyalty/club/partners/exchange/nope/statement.csv").status == 404
