"""A rejected campaign goes back to draft with its approver's reason, and its page tells its author
who sent it back and why, until it is submitted again."""

from __future__ import annotations

import html
import re

from engage.engine.campaigns import lifecycle
from engage.engine.campaigns.rejections import last_rejection, sent_back
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.web import signed_in


def _rejected(engine, reason: str = "The price is wrong: it is 20,000 not 2,000") -> int:  # noqa: ANN001
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine, actor="mara@example.com")
    with engine.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="mara@example.com", role="marketer")
        lifecycle.reject(conn, campaign_id, actor="checker@example.com", reason=reason)
    return campaign_id


def test_the_author_sees_who_sent_the_campaign_back_and_why(site, quick_hashes):
    engine, base = site
    campaign_id = _rejected(engine)
    page = signed_in(engine, base, "marketer", email="mara@example.com").get(f"/campaigns/{campaign_id}")
    assert 'id="rejected"' in page.body
    assert "Sent back by checker@example.com" in page.body
    assert "“The price is wrong: it is 20,000 not 2,000”" in html.unescape(page.body)


def test_a_campaign_submitted_again_no_longer_shows_the_old_reason(engine):
    campaign_id = _rejected(engine)
    with engine.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="mara@example.com", role="marketer")
        assert last_rejection(conn, campaign_id) is None
        lifecycle.reject(conn, campaign_id, actor="boss@example.com", reason="Not this week")
        assert last_rejection(conn, campaign_id)["reason"] == "Not this week"


def test_a_draft_never_rejected_shows_no_reason(site, quick_hashes):
    engine, base = site
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine, actor="mara@example.com")
    assert 'id="rejected"' not in signed_in(engine, base, "marketer").get(f"/campaigns/{campaign_id}").body


def test_the_dashboard_lists_drafts_sent_back_with_their_reasons(site, quick_hashes):
    engine, base = site
    campaign_id = _rejected(engine, reason="Wrong sender id")
    body = html.unescape(signed_in(engine, base, "marketer").get("/dashboard").body)
    assert 'id="sent-back"' in body and f'href="/campaigns/{campaign_id}"' in body
    assert re.search(r'“Wrong sender id” <span class="muted">\(checker@example\.com, ', body)


def test_another_branch_does_not_see_a_draft_sent_back(engine):
    _rejected(engine)
    with engine.connect() as conn:
        assert sent_back(conn, branch="south") == [] and len(sent_back(conn, branch=None)) == 1
