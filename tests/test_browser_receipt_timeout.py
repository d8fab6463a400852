"""The campaign page shows how many messages are unconfirmed: submitted, and no receipt within the
provider's receipt timeout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect
from sqlalchemy import update

from engage.engine import statuses as st
from engage.engine.campaigns.launching import launch_run
from engage.engine.providers.records import add_smpp
from engage.engine.receipts.timeouts import time_out_unconfirmed
from engage.engine.store.schema import Message
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.browser import sign_in
from tests.fixtures.web import add_user


def test_the_campaign_page_counts_the_messages_whose_receipt_never_came(page, site, quick_hashes):
    engine, base = site
    add_subscribers(engine, 3)
    add_user(engine, "ana@example.com", "analyst")
    campaign_id = make_campaign(engine)
    launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    with engine.begin() as conn:
        provider = add_smpp(conn, name="sim", host="127.0.0.1", port=2775, system_id="e", password="p", actor="t",
                            receipt_timeout=60)
        conn.execute(update(Message.__table__).where(Message.campaign_id == campaign_id).values(
            provider_id=provider, status=st.SUBMITTED, submitted_at=datetime.now(UTC) - timedelta(minutes=5)))
    assert time_out_unconfirmed(engine) == 3
    sign_in(page, base, "ana@example.com", f"/campaigns/{campaign_id}")
    expect(page.locator('#counts td[data-status="unconfirmed"]')).to_have_text("3")
    expect(page.locator("#done-count")).to_have_text("3")  # final: the campaign can complete
    expect(page.locator(".legend .k-unconfirmed")).to_be_visible()
