"""The approvals page shows an approver what they agree to, not only its cost: the review its author saw
(campaigns.review): the message as it will read, its sender, and when it goes out in plain words with the
zone named."""

from __future__ import annotations

import html

from sqlalchemy import update

from engage.engine.campaigns import lifecycle
from engage.engine.store.schema import Campaign
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.web import serving, signed_in


def test_an_approver_sees_the_message_its_sender_and_when_it_goes_out(engine, quick_hashes):
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine, actor="mara@example.com",
                                schedule={"kind": "weekly", "days": ["mon", "thu"], "time": "10:00"})
    with engine.begin() as conn:
        conn.execute(update(Campaign).where(Campaign.id == campaign_id).values(timezone="Asia/Tashkent"))
        lifecycle.submit(conn, campaign_id, actor="mara@example.com", role="marketer")
    with serving(engine) as base:
        page = html.unescape(signed_in(engine, base, "approver").get("/approvals").body)
    assert '<blockquote class="message">Hi Alexander</blockquote>' in page  # "Hi {{ first_name }}", sample values
    assert "<dd>Shop</dd>" in page
    assert "Every Monday and Thursday at 10:00 Asia/Tashkent" in page
