"""The Providers page leads an admin somewhere from every state without a terminal: an empty table
says what is missing and offers the form that adds it, a price row naming no provider says which
providers there are, a price file in another encoding is read in the one the form names."""

from __future__ import annotations

import html
import re
import secrets

import pytest
from sqlalchemy import select

from engage.engine.providers.records import add_smpp
from engage.engine.store.schema import AuditEntry, Provider, RoutePrice
from tests.fixtures.web import Browser, serving, signed_in

PRICES = ("provider,prefix,mcc_mnc,network,price,currency,valid_from\n"
          "mts,99890,,МТС Узбекистан,0.0100,USD,2026-01-01\n"
          "ghost,99891,,X,0.02,USD,2026-01-01\n")
SMPP = {"name": "beeline", "host": "smsc.example.com", "port": "2775", "system_id": "engage",
        "password": "s3cret", "tps": "50"}


@pytest.fixture
def web(engine, quick_hashes):
    with serving(engine) as base:
        yield engine, base


def with_mts(engine) -> None:
    with engine.begin() as conn:
        add_smpp(conn, name="mts", host="127.0.0.1", port=2775, system_id="e", password="p", actor="t")


def upload_prices(browser: Browser, text: str, encoding: str = "", file_encoding: str = "utf-8"):
    boundary = f"----engage{secrets.token_hex(8)}"
    fields = {"_xsrf": browser.cookie("_xsrf") or browser.xsrf(), "encoding": encoding}
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="prices"; filename="prices.csv"\r\n'
                 f"Content-Type: text/csv\r\n\r\n".encode() + text.encode(file_encoding)
                 + f"\r\n--{boundary}--\r\n".encode())
    return browser.request("POST", "/providers", b"".join(parts),
                           {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def test_a_price_row_naming_no_provider_says_which_providers_there_are_and_no_command(web):
    engine, base = web
    with_mts(engine)
    page = html.unescape(upload_prices(signed_in(engine, base, "admin"), PRICES).body)
    assert "no provider named 'ghost' (the providers are 'mts')" in page
    assert "`engage" not in page


def test_a_price_file_in_cp1251_is_read_in_the_encoding_the_form_names(web):
    engine, base = web
    with_mts(engine)
    reply = upload_prices(signed_in(engine, base, "admin"), PRICES, "cp1251", file_encoding="cp1251")
    assert "1 of 2 price rows imported, 1 rejected." in reply.body
    assert "МТС Узбекистан" in html.unescape(reply.body)


def test_an_empty_providers_page_tells_an_admin_what_is_missing_and_offers_the_form(web):
    engine, base = web
    page = signed_in(engine, base, "admin").get("/providers").body
    assert "No providers yet: no message can be sent until one is added." in page
    assert 'href="#add-provider"' in page and 'id="add-smpp"' in page
    assert "Add a provider first, then import its price table." in page


def test_an_empty_providers_page_tells_a_marketer_that_an_admin_adds_them(web):
    engine, base = web
    page = signed_in(engine, base, "marketer").get("/providers").body
    assert "An admin adds them." in page and "An admin imports them." in page and 'id="add-smpp"' not in page


def test_a_page_with_a_provider_and_no_prices_offers_the_price_import(web):
    engine, base = web
    with_mts(engine)
    page = signed_in(engine, base, "admin").get("/providers").body
    assert 'id="no-providers"' not in page and '<a href="#import-prices">Import a price table</a>' in page


def test_an_admin_adds_an_smpp_provider_from_the_page(web):
    engine, base = web
    admin = signed_in(engine, base, "admin")
    reply = admin.post_form("/providers/new", SMPP)
    assert reply.status == 303 and reply.headers["Location"] == "/providers?added=beeline#providers"
    with engine.connect() as conn:
        row = conn.execute(select(Provider.__table__).where(Provider.name == "beeline")).one()
        audited = conn.execute(select(AuditEntry.actor).where(AuditEntry.action == "provider.add")).scalar_one()
    assert (row.kind, row.tps, row.config["host"], row.config["port"]) == ("smpp", 50, "smsc.example.com", 2775)
    assert audited == "admin@example.com"
    page = admin.get("/providers?added=beeline").body
    assert 'data-provider="beeline"' in page and "Provider beeline added." in page and "s3cret" not in page


def test_a_provider_the_form_cannot_add_says_why_and_keeps_what_was_typed_but_the_password(web):
    engine, base = web
    reply = signed_in(engine, base, "admin").post_form("/providers/new", {**SMPP, "port": "twenty"})
    assert reply.status == 400
    assert "The provider was not added: Port: a whole number, not &#x27;twenty&#x27;" in reply.body
    assert re.search(r'id="provider-host" value="smsc.example.com"', reply.body) and "s3cret" not in reply.body


def test_a_provider_whose_name_is_taken_is_refused_without_naming_a_command(web):
    engine, base = web
    with_mts(engine)
    reply = signed_in(engine, base, "admin").post_form("/providers/new", {**SMPP, "name": "mts"})
    assert reply.status == 400 and "a provider named &#x27;mts&#x27; already exists" in reply.body
    assert "`engage" not in reply.body


@pytest.mark.parametrize(("role", "branch"), [("marketer", None), ("admin", "north")])
def test_only_an_admin_of_no_branch_adds_a_provider(web, role, branch):
    engine, base = web
    assert signed_in(engine, base, role, branch=branch).post_form("/providers/new", SMPP).status == 403
    with engine.connect() as conn:
        assert conn.execute(select(Provider.id)).first() is None


def test_the_api_reads_a_price_table_in_the_encoding_it_names(web):
    engine, base = web
    with_mts(engine)
    admin = signed_in(engine, base, "admin")
    reply = admin.request("POST", "/api/v1/routes/import?encoding=cp1251", PRICES.encode("cp1251"),
                          {"Content-Type": "text/csv", "X-XSRFToken": admin.cookie("_xsrf") or admin.xsrf()})
    assert reply.status == 200 and (reply.json()["imported"], reply.json()["rejected"]) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(select(RoutePrice.network)).scalar_one() == "МТС Узбекистан"
