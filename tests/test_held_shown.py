"""A campaign whose messages wait for quiet hours or the recipients' local time says so and until
when, on its page, in the campaigns list and on the dashboard, in the reader's zone, named."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from engage.engine.campaigns.launching import launch_run
from engage.engine.store.schema import Campaign, Message
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.web import signed_in

UNTIL = datetime(2027, 1, 5, 4, 0, tzinfo=UTC)  # 09:00 in Tashkent


@pytest.fixture
def holding(site, quick_hashes):
    engine, base = site
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine, name="Night offer", quiet_hours="21:00-09:00")
    launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    with engine.begin() as conn:
        conn.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="running"))
        conn.execute(update(Message).where(Message.campaign_id == campaign_id).values(status="held",
                                                                                      not_before=UNTIL))
    return engine, base, campaign_id


def test_the_campaign_page_says_how_many_are_held_for_quiet_hours_and_until_when(holding):
    engine, base, campaign_id = holding
    page = html.unescape(signed_in(engine, base, "marketer").get(f"/campaigns/{campaign_id}").body)
    assert ("3 messages are held for quiet hours (21:00-09:00 in each recipient's zone): they go out at "
            "2027-01-05 09:00 Asia/Tashkent (UTC+05:00). Held messages are sent then, not dropped.") in page


def test_the_campaigns_list_and_the_dashboard_say_held_until_when(holding):
    engine, base, _ = holding
    browser = signed_in(engine, base, "marketer")
    for path in ("/campaigns", "/dashboard"):
        page = html.unescape(browser.get(path).body)
        assert "3 held until 2027-01-05 09:00 Asia/Tashkent (UTC+05:00)</small>" in page, path


def test_the_campaign_page_names_each_message_status_in_words_with_its_code_beside(holding):
    engine, base, campaign_id = holding
    page = html.unescape(signed_in(engine, base, "marketer").get(f"/campaigns/{campaign_id}").body)
    assert '<td title="held">Held until its send time</td><td class="num" data-status="held">3</td>' in page
    assert '<td title="opted_out">Not sent: the subscriber had opted out</td>' in page
