"""A campaign's figures (its messages counted by status and arm, its cost) are read off the web
process's IO loop, grouped once for a whole list, and within a time budget: at millions of messages
the list, the API and the pages neither hold up other requests nor run without end. Past the
budget a campaign comes with its record and without its figures, saying why."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from engage.engine import campaigns
from engage.engine.campaigns import overview
from engage.web import campaign_live as live
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.web import serving, signed_in
from tests.off_loop_checks import assert_sign_in_answers_at_once
from tests.test_audience_api import _call


@pytest.fixture
def launched(engine):
    """Three campaigns launched to 6 subscribers each (the first with arms), served."""
    add_subscribers(engine, 6)
    halves = {"variants": {"B": "Hello"}, "arms": [{"arm": "A", "share": 50}, {"arm": "B", "share": 50}],
              "seed": 1}
    ids = [make_campaign(engine, name=f"offer {n}", **(halves if n == 0 else {})) for n in range(3)]
    for campaign_id in ids:
        campaigns.launch(engine, campaign_id, actor="maker")
    with serving(engine, tokens="hq-token") as base:
        yield engine, base, ids


# a table lock stands in for millions of messages: PostgreSQL waits on it within its statement timeout
postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@contextmanager
def messages_locked(engine):
    """Another session holds the messages table: a read of it waits as one of millions of rows would."""
    with engine.connect() as holder:
        holder.execute(text("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            holder.rollback()


@contextmanager
def reading_messages(engine):
    """An event set as a statement on the messages table starts, whichever thread runs it."""
    started = threading.Event()

    def note(conn, cursor, statement, *args):  # noqa: ANN001, ANN002, ANN202
        if "FROM messages" in statement:
            started.set()

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield started
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_the_list_gives_each_campaign_the_figures_of_its_own_messages(launched):
    engine, base, ids = launched
    status, body = _call(base, "/api/v1/campaigns")
    assert status == 200
    with engine.connect() as conn:
        expected = {i: campaigns.summary(conn, i) for i in ids}
    listed = {c["id"]: c for c in body["campaigns"]}
    assert sorted(listed) == sorted(ids)
    for campaign_id in ids:
        assert listed[campaign_id] == expected[campaign_id]
    assert sum(listed[ids[0]]["counts"].values()) == 6
    assert set(listed[ids[0]]["arms_counts"]) == {"A", "B"}


def test_the_list_reads_the_messages_of_all_its_campaigns_in_two_grouped_queries(launched):
    engine, base, ids = launched
    statements = []

    def note(conn, cursor, statement, *args):  # noqa: ANN001, ANN002, ANN202
        if "FROM messages" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        assert _call(base, "/api/v1/campaigns")[0] == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(statements) == 2  # counts by campaign, arm and status; cost by campaign and currency


@postgresql_only
def test_past_its_budget_the_list_names_the_campaigns_without_figures_saying_why(launched, monkeypatch):
    engine, base, ids = launched
    monkeypatch.setattr(overview, "FIGURES_SECONDS", 1.0)
    with messages_locked(engine):
        started = time.perf_counter()
        status, body = _call(base, "/api/v1/campaigns")
        assert time.perf_counter() - started < 5
    assert status == 200
    assert sorted(c["id"] for c in body["campaigns"]) == sorted(ids)
    for c in body["campaigns"]:
        assert c["counts"] is None and c["arms_counts"] is None and c["cost"] is None
        assert c["figures_error"] == "not computed: counting the campaign's messages took longer than 1 s"


@postgresql_only
def test_past_its_budget_a_campaign_is_read_without_figures_saying_why(launched, monkeypatch):
    engine, base, ids = launched
    monkeypatch.setattr(overview, "FIGURES_SECONDS", 1.0)
    with messages_locked(engine):
        status, body = _call(base, f"/api/v1/campaigns/{ids[0]}")
    assert status == 200
    assert body["name"] == "offer 0" and body["status"] == "running" and body["counts"] is None
    assert "took longer than 1 s" in body["figures_error"]


@postgresql_only
def test_past_its_budget_the_campaign_pages_show_the_campaigns_and_say_the_figures_are_not_computed(
        launched, monkeypatch):
    engine, base, ids = launched
    monkeypatch.setattr(overview, "FIGURES_SECONDS", 1.0)
    browser = signed_in(engine, base, "marketer")
    with messages_locked(engine):
        listing, page = browser.get("/campaigns"), browser.get(f"/campaigns/{ids[0]}")
    assert listing.status == 200 and "offer 2" in listing.body and "not computed" in listing.body
    assert page.status == 200 and 'id="figures-error"' in page.body and ">Pause</button>" in page.body


@pytest.mark.parametrize("path", ["/api/v1/campaigns", "/api/v1/campaigns/{id}", "/campaigns", "/campaigns/{id}"])
@postgresql_only
def test_the_sign_in_page_answers_at_once_while_campaign_figures_are_counted(launched, path):
    engine, base, ids = launched
    browser = signed_in(engine, base, "marketer")
    answered = []
    with reading_messages(engine) as reading, messages_locked(engine):  # released before the thread is joined
        counting = threading.Thread(target=lambda: answered.append(browser.get(path.format(id=ids[0]))))
        counting.start()
        assert reading.wait(5)
        assert_sign_in_answers_at_once(base, held=answered)
    counting.join()
    assert answered[0].status == 200  # the figures were still waiting when the sign-in page answered


def _live_message(browser, base: str, campaign_id: int) -> dict:
    """The first push of the campaign's live websocket, as the signed-in browser's page receives it."""
    import asyncio
    import json

    import tornado.httpclient
    import tornado.websocket

    async def first() -> dict:
        cookies = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
        request = tornado.httpclient.HTTPRequest(base.replace("http", "ws") + f"/campaigns/{campaign_id}/live",
                                                 headers={"Cookie": cookies, "Origin": base}, request_timeout=10)
        socket = await tornado.websocket.websocket_connect(request)
        try:
            return json.loads(await asyncio.wait_for(socket.read_message(), 10))
        finally:
            socket.close()

    return asyncio.run(first())


def test_the_live_figures_are_read_on_the_web_processs_worker_threads(launched):
    engine, base, ids = launched
    browser = signed_in(engine, base, "marketer")
    threads = set()

    def note(conn, cursor, statement, *args):  # noqa: ANN001, ANN002, ANN202
        if "FROM messages" in statement:
            threads.add(threading.current_thread().name)

    event.listen(engine, "before_cursor_execute", note)
    try:
        pushed = _live_message(browser, base, ids[0])
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert pushed["status"] == "running" and pushed["total"] == 6
    assert threads and all(name.startswith("engage-web") for name in threads), threads


@postgresql_only
def test_past_their_budget_the_live_figures_stop_saying_why(launched, monkeypatch):
    engine, base, ids = launched
    monkeypatch.setattr(overview, "FIGURES_SECONDS", 1.0)
    with messages_locked(engine):
        started = time.perf_counter()
        with pytest.raises(overview.FiguresTooSlow, match="took longer than 1 s"):
            live.figures(engine, ids[0])
        assert time.perf_counter() - started < 5


@postgresql_only
def test_past_their_budget_the_stats_api_is_a_503_saying_why(launched, monkeypatch):
    engine, base, ids = launched
    monkeypatch.setattr(overview, "FIGURES_SECONDS", 1.0)
    with messages_locked(engine):
        status, body = _call(base, f"/api/v1/campaigns/{ids[0]}/stats")
    assert status == 503
    assert body["error"] == (f"campaign {ids[0]}'s figures: not computed: counting the campaign's messages "
                             "took longer than 1 s; try again later")
