"""The Inbound page over real HTTP: what subscribers texted and what the keywords read it as, found
by number or keyword, for support and admin only, a branch user kept to their branch."""

from __future__ import annotations

import urllib.parse

import pytest
from sqlalchemy import insert

from engage.engine.keywords import editing
from engage.engine.keywords.handling import handle_pending
from engage.engine.store.schema import InboundMessage
from tests.fixtures.web import serving, signed_in
from tests.subscriber_story import AZIZ, SAM, add_people, message_and_reply


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    add_people(engine)
    story = message_and_reply(engine, AZIZ)  # delivered to Aziz (north), who replied "STOP please"
    with engine.begin() as conn:
        conn.execute(insert(InboundMessage.__table__), [
            {"provider_id": 1, "source": SAM.lstrip("+"), "destination": "5555", "text": "Balance?", "handled": False},
            {"provider_id": 1, "source": SAM.lstrip("+"), "destination": "5555", "text": "Balance?", "handled": False}])
    handle_pending(engine)
    with serving(engine) as base:
        yield engine, base, story


def test_support_sees_each_message_whole_with_what_it_was_read_as(web):
    engine, base, _ = web
    page = signed_in(engine, base, "support").get("/inbound")
    assert page.status == 200
    for shown in (AZIZ.lstrip("+"), "STOP please", ">STOP<", SAM.lstrip("+"), "Balance?", ">BALANCE<", "repeat of #"):
        assert shown in page.body, shown


def test_messages_are_found_by_number_and_by_keyword(web):
    engine, base, _ = web
    admin = signed_in(engine, base, "admin")
    by_number = admin.get(f"/inbound?number={urllib.parse.quote(SAM)}").body
    assert "Balance?" in by_number and "STOP please" not in by_number
    by_keyword = admin.get("/inbound?keyword=stop").body
    assert "STOP please" in by_keyword and "Balance?" not in by_keyword


def test_a_number_that_is_none_is_an_error_naming_it(web):
    engine, base, _ = web
    page = signed_in(engine, base, "admin").get("/inbound?number=12ab")
    assert page.status == 400 and "number:" in page.body


def test_a_branch_user_sees_only_their_branchs_subscribers_messages(web):
    engine, base, _ = web
    north = signed_in(engine, base, "support", branch="north").get("/inbound").body
    assert "STOP please" in north and "Balance?" not in north


@pytest.mark.parametrize("role", ["marketer", "analyst", "approver"])
def test_other_roles_may_not_read_what_subscribers_texted(web, role):
    engine, base, _ = web
    browser = signed_in(engine, base, role)
    assert browser.get("/inbound").status == 403
    assert 'href="/inbound"' not in browser.get("/campaigns").body


def test_the_campaign_page_shows_its_replies_and_response_rate(web):
    engine, base, story = web
    page = signed_in(engine, base, "marketer").get(f"/campaigns/{story['campaign_id']}")
    assert page.status == 200
    assert '<span id="replied"' in page.body and ">1</span>" in page.body
    assert '<span id="response-rate">100.0</span>% of delivered' in page.body


def test_replies_to_a_campaign_are_found_by_the_campaign_and_link_to_it(web):
    engine, base, story = web
    admin = signed_in(engine, base, "admin")
    page = admin.get(f"/inbound?campaign={story['campaign_id']}").body
    assert "STOP please" in page and "Balance?" not in page
    assert f'href="/campaigns/{story["campaign_id"]}"' in page


def test_a_campaign_that_is_no_number_is_an_error_naming_it(web):
    engine, base, _ = web
    page = signed_in(engine, base, "admin").get("/inbound?campaign=spring")
    assert page.status == 400 and "campaign:" in page.body


def test_the_campaign_page_counts_the_answers_per_keyword(web):
    engine, base, story = web
    with engine.begin() as conn:
        editing.save(conn, {"word": "YES", "steps": [{"kind": "answered"}]}, actor="admin@x")
        conn.execute(insert(InboundMessage.__table__).values(provider_id=1, source=AZIZ.lstrip("+"),
                                                             destination="5555", text="Yes!", handled=False))
    handle_pending(engine)
    page = signed_in(engine, base, "marketer").get(f"/campaigns/{story['campaign_id']}")
    assert '<span id="answers">YES 1</span>' in page.body
