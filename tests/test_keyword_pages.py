"""The Keywords page over real HTTP: every keyword with what it does, a form that saves one or says
field by field why not, "test a text", editing for admin and marketer of no branch only."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engage.engine.store.schema import Keyword
from tests.fixtures.web import serving, signed_in


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    with serving(engine) as base:
        yield engine, base


def test_the_page_lists_the_built_in_keywords_with_their_replies(web):
    engine, base = web
    page = signed_in(engine, base, "support").get("/keywords")
    assert page.status == 200
    for shown in ("STOP", "START", "HELP", "unknown words", "Keyword reply: STOP", "СТОП"):
        assert shown in page.body, shown


def test_a_marketer_adds_a_keyword_on_a_short_code(web):
    engine, base = web
    browser = signed_in(engine, base, "marketer")
    saved = browser.post_form("/keywords/new", {"word": "join", "short_code": "4455", "aliases": "play",
                                                "reply_template_id": "", "enabled": "on",
                                                "step_kind": "tag", "step_value": "quiz"})
    with engine.connect() as conn:
        row = conn.execute(select(Keyword).where(Keyword.word == "JOIN")).one()
    assert saved.status == 303 and saved.headers["Location"] == f"/keywords/{row.id}?saved=1"
    assert "Keyword saved." in browser.get(saved.headers["Location"]).body
    assert (row.short_code, row.aliases, row.steps) == ("4455", ["PLAY"], [{"kind": "tag", "tag": "quiz"}])


def test_a_keyword_that_cannot_work_is_shown_again_with_each_problem(web):
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/keywords/new", {
        "word": "two words", "short_code": "", "aliases": "", "reply_template_id": "", "enabled": "on",
        "step_kind": "webhook", "step_value": "ftp://x"})
    assert page.status == 400
    assert 'data-field="word"' in page.body and 'data-field="step 1 (webhook)"' in page.body
    assert 'value="two words"' in page.body  # what was typed is kept


def test_testing_a_text_shows_the_keyword_and_the_reply_in_the_language_asked(web):
    engine, base = web
    page = signed_in(engine, base, "support").get("/keywords?text=%D0%A1%D1%82%D0%BE%D0%BF%21&code=4455&language=ru")
    assert "keyword STOP" in page.body
    assert re.search(r'id="tried-reply">Вы отписаны', page.body)


def test_a_built_in_keyword_keeps_its_word_and_takes_aliases(web):
    engine, base = web
    browser = signed_in(engine, base, "admin")
    browser.get("/keywords")
    with engine.connect() as conn:
        stop = conn.execute(select(Keyword.id).where(Keyword.word == "STOP")).scalar_one()
    saved = browser.post_form(f"/keywords/{stop}", {"builtin": "1", "aliases": "ХВАТИТ", "enabled": "on",
                                                    "reply_template_id": ""})
    assert saved.status == 303
    with engine.connect() as conn:
        assert conn.execute(select(Keyword.word, Keyword.aliases).where(Keyword.id == stop)).one() \
            == ("STOP", ["ХВАТИТ"])


@pytest.mark.parametrize("role", ["analyst", "approver"])
def test_roles_with_no_need_may_not_read_keywords(web, role):
    engine, base = web
    assert signed_in(engine, base, role).get("/keywords").status == 403


def test_support_reads_keywords_but_may_not_change_them(web):
    engine, base = web
    browser = signed_in(engine, base, "support")
    assert 'id="new-keyword"' not in browser.get("/keywords").body
    assert browser.post_form("/keywords/new", {"word": "X"}).status == 403


def test_support_sees_that_a_keyword_calls_a_webhook_but_not_the_key_in_its_url(web):
    engine, base = web
    hook = "https://crm.example.com/mo?api_key=s3cr3t"
    saved = signed_in(engine, base, "marketer").post_form("/keywords/new", {
        "word": "quiz", "short_code": "", "aliases": "", "reply_template_id": "", "enabled": "on",
        "step_kind": "webhook", "step_value": hook})
    keyword_page = saved.headers["Location"].split("?")[0]
    assert "s3cr3t" in signed_in(engine, base, "admin").get(keyword_page).body  # an editor edits the whole URL
    shown = signed_in(engine, base, "support").get(keyword_page).body
    assert "s3cr3t" not in shown and "https://crm.example.com/mo?…" in shown


def test_a_branch_marketer_may_not_change_the_operators_keywords(web):
    engine, base = web
    browser = signed_in(engine, base, "marketer", branch="north")
    assert browser.get("/keywords").status == 200
    assert browser.post_form("/keywords/new", {"word": "X"}).status == 403
