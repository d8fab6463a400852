"""The Subscribers pages speak to a marketer, not a database: a name is found in any script, a
profile is labelled in words and a message's fate is a sentence (the network's code in its
tooltip), an empty list says why and what to do next, an import lists its rejected rows."""

from __future__ import annotations

import html
import re
import urllib.parse

from sqlalchemy import select

from engage.engine.store.schema import Subscriber
from engage.engine.subscribers import upsert
from tests.fixtures.web import signed_in
from tests.subscriber_story import AZIZ
from tests.test_subscriber_pages import finished, job_id_of, upload, web  # noqa: F401 - web is a fixture

DILNOZA = "+998901000077"


def test_a_cyrillic_name_is_found_by_part_of_it_in_lower_case_on_the_page_and_by_the_api(web):  # noqa: F811
    engine, base, _ = web
    upsert(engine, [{"msisdn": DILNOZA, "first_name": "Дилноза"}])
    admin = signed_in(engine, base, "admin")
    asked = urllib.parse.urlencode({"field": "first_name", "op": "contains", "value": "дилн"})
    page = admin.get(f"/subscribers?{asked}")
    assert page.status == 200 and "Дилноза" in html.unescape(page.body)
    assert [s["msisdn"] for s in admin.get(f"/api/v1/subscribers?{asked}").json()["subscribers"]] == [DILNOZA]


def test_the_search_form_names_fields_by_their_labels(web):  # noqa: F811
    engine, base, _ = web
    page = signed_in(engine, base, "marketer").get("/subscribers")
    assert '<option value="first_name">First name</option>' in page.body
    assert '<option value="birth_date">Date of birth</option>' in page.body


def test_the_profile_labels_its_fields_in_words(web):  # noqa: F811
    engine, base, ids = web
    page = signed_in(engine, base, "support").get(f"/subscribers/{ids[AZIZ]}").body
    assert "<dt>First name</dt>" in page and "<dt>Date of birth</dt>" in page
    assert not re.search(r"<dt>[^<]*(_|FIRST_NAME)[^<]*</dt>", page)


def test_the_history_says_delivered_in_words_with_the_networks_code_in_the_tooltip(web):  # noqa: F811
    engine, base, ids = web
    page = signed_in(engine, base, "support").get(f"/subscribers/{ids[AZIZ]}").body
    assert 'data-stat="DELIVRD" title="DELIVRD (error 000)">Delivered</span>' in page
    assert 'data-status="delivered" title="delivered">Delivered</span>' in page
    assert "(error 000)<" not in page


def test_a_search_that_finds_no_one_says_so_and_offers_every_subscriber(web):  # noqa: F811
    engine, base, _ = web
    page = signed_in(engine, base, "marketer").get("/subscribers?field=city&value=Atlantis").body
    assert "No subscriber matches this search." in page and 'href="/subscribers" id="show-all"' in page


def test_a_branch_with_no_subscribers_offers_its_marketer_an_import(web):  # noqa: F811
    engine, base, _ = web
    page = signed_in(engine, base, "marketer", branch="east").get("/subscribers").body
    assert "No subscribers yet in branch east." in page and 'href="/subscribers/import" id="import-first"' in page


def test_a_branch_with_no_subscribers_tells_an_analyst_who_can_add_them(web):  # noqa: F811
    engine, base, _ = web
    page = signed_in(engine, base, "analyst", branch="east").get("/subscribers").body
    assert "an admin or a marketer can do it" in page and 'id="import-first"' not in page


def test_a_finished_import_lists_its_rejected_rows_with_line_column_and_reason(web):  # noqa: F811
    engine, base, _ = web
    marketer = signed_in(engine, base, "marketer")
    job_id = job_id_of(upload(marketer))
    finished(marketer, job_id)
    page = html.unescape(marketer.get(f"/subscribers/import/{job_id}").body)
    [row] = re.findall(r"<tbody>\s*<tr>(.*?)</tr>", page, re.S)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[:2] == ["3", "Phone number"] and cells[2].startswith("'12'")
    assert "Rejected rows 1–1 of 1" in page


def test_an_import_that_rejected_nothing_says_every_row_went_in(web):  # noqa: F811
    engine, base, _ = web
    marketer = signed_in(engine, base, "marketer")
    job_id = job_id_of(upload(marketer, "msisdn,first_name\n+998901110001,Olim\n"))
    finished(marketer, job_id)
    assert "Every row was imported." in marketer.get(f"/subscribers/import/{job_id}").body
    with engine.connect() as conn:
        olim = conn.execute(select(Subscriber.first_name).where(Subscriber.msisdn == "+998901110001")).scalar()
    assert olim == "Olim"
