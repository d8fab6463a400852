"""The lists of campaigns keep test sends (a draft's message to a few staff phones) and keyword
replies (confirmations that run for good) apart from the campaigns: on the Campaigns page each has
a section of its own, the dashboard's campaigns leave them out and show the day's test sends below;
a list with nothing in it (campaigns, test sends, the dashboard's providers) says so and offers what to
do next."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engage.engine import dashboard
from engage.engine.campaigns import overview
from engage.engine.campaigns.trial_sends import send_test
from engage.engine.keywords import builtins, replies
from engage.engine.keywords.actions import Inbound
from engage.engine.store.schema import Keyword
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.web import signed_in


@pytest.fixture
def tested(engine):
    """A draft, one test send of it, and the STOP confirmation's reply campaign."""
    add_subscribers(engine, 2)
    draft = make_campaign(engine, name="Spring offer")
    test = send_test(engine, draft, ["+998901234567"], actor="mara@example.com")["test_campaign_id"]
    with engine.begin() as conn:
        builtins.ensure(conn)
        template_id = conn.execute(select(Keyword.reply_template_id).where(Keyword.word == "STOP")).scalar_one()
        reply = replies.queue(conn, [(Inbound(1, 0, "+998901234567", "7777", "STOP", datetime.now(UTC)),
                                      template_id)])[0]["reply"]
    return engine, draft, test, reply


def ids(listed):
    return [c["id"] for c in listed]


def test_a_test_send_is_listed_apart_from_the_campaigns(tested):
    engine, draft, test, _ = tested
    with engine.connect() as conn:
        listed = overview.apart(conn, None)
    assert ids(listed["campaigns"]) == [draft] and ids(listed["test_sends"]) == [test]
    assert listed["test_sends"][0]["created_at"].tzinfo is not None


def test_keyword_replies_are_listed_apart_from_the_campaigns(tested):
    engine, draft, _, reply = tested
    with engine.connect() as conn:
        listed = overview.apart(conn, None)
    assert ids(listed["keyword_replies"]) == [reply] and reply not in ids(listed["campaigns"])


def test_another_branch_lists_none_of_them(tested):
    engine, *_ = tested
    with engine.connect() as conn:
        assert overview.apart(conn, "south") == {"campaigns": [], "test_sends": [], "keyword_replies": []}


def test_the_dashboard_counts_no_test_send_or_keyword_reply_as_a_running_campaign(tested):
    engine, _, test, _ = tested
    with engine.connect() as conn:
        f = dashboard.figures(conn, branch=None)
    assert f["running"] == [] and [t["id"] for t in f["test_sends"]] == [test]


def test_the_campaigns_page_shows_test_sends_in_their_own_table(site, quick_hashes):
    engine, base = site
    add_subscribers(engine, 1)
    draft = make_campaign(engine, name="Spring offer")
    send_test(engine, draft, ["+998901234567"], actor="mara@example.com")
    body = signed_in(engine, base, "marketer").get("/campaigns").body
    campaigns, test_sends = body.split('id="test-sends-title"')
    assert "Spring offer (test)" not in campaigns and "Spring offer</a>" in campaigns
    assert "Spring offer (test)</a>" in test_sends and "mara@example.com" in test_sends


def test_empty_lists_say_so_and_offer_the_next_step(site, quick_hashes):
    engine, base = site
    body = signed_in(engine, base, "marketer").get("/campaigns").body
    assert 'id="no-campaigns"' in body and '<a href="/campaigns/new">Make the first one</a>' in body
    assert 'id="no-test-sends"' in body and "<em>Send test</em>" in body
    assert 'id="keyword-replies"' not in body


def test_the_dashboard_shows_the_days_test_sends_below_its_campaigns(site, quick_hashes):
    engine, base = site
    add_subscribers(engine, 1)
    draft = make_campaign(engine, name="Spring offer")
    send_test(engine, draft, ["+998901234567"], actor="mara@example.com")
    body = signed_in(engine, base, "marketer").get("/dashboard").body
    active, below = body.split('id="test-sends-today"')
    assert "Spring offer (test)" not in active and 'id="no-active"' in active
    assert "Spring offer (test)</a>" in below


def test_a_dashboard_without_providers_says_nothing_can_be_sent_and_where_to_add_one(site, quick_hashes):
    engine, base = site
    body = signed_in(engine, base, "marketer").get("/dashboard").body
    assert 'id="no-providers"' in body and "nothing can be sent until one is added" in body
    assert '<a href="/providers">Providers</a>' in body
