"""The campaign page's bar charts, filled live from the websocket: delivery rate by provider and by
network, cost by provider; at 1280 px and at tablet width the page never scrolls sideways."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from engage.engine.campaigns.launching import launch_run
from engage.engine.providers.records import add_smpp
from engage.engine.store.schema import Message
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user

# subscriber -> (provider, network, status, price): alpha delivers 3 of 4, beta 1 of 2
SENT = {1: ("alpha", "434-04", "delivered", "0.02"), 2: ("alpha", "434-04", "delivered", "0.02"),
        3: ("alpha", "434-04", "delivered", "0.02"), 4: ("alpha", "434-04", "failed", "0.02"),
        5: ("beta", "434-05", "delivered", "0.05"), 6: ("beta", "434-05", "undelivered", "0.05")}


@pytest.fixture
def sent(site, quick_hashes):
    """A campaign whose six messages went through two providers to two networks."""
    engine, base = site
    add_subscribers(engine, 6)
    add_user(engine, "ana@example.com", "analyst")
    campaign_id = make_campaign(engine, name="Spring offer with a name long enough to wrap on a tablet")
    launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    with engine.begin() as conn:
        ids = {name: add_smpp(conn, name=name, host="127.0.0.1", port=2775, system_id=name, password="p", actor="t")
               for name in ("alpha", "beta")}
        for subscriber, (provider, network, status, price) in SENT.items():
            conn.execute(update(Message.__table__).where(
                Message.campaign_id == campaign_id, Message.subscriber_id == subscriber).values(
                provider_id=ids[provider], network=network, status=status, price=Decimal(price), currency="USD",
                submitted_at=datetime.now(UTC)))
    return base, campaign_id


def bar(page, chart, name):
    return page.locator(f"#{chart} g[data-name='{name}']")


def open_campaign(page, base, campaign_id, width):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, base, "ana@example.com", f"/campaigns/{campaign_id}")
    expect(bar(page, "rate-providers", "alpha")).to_have_count(1)  # the first push has arrived


def test_delivery_rate_by_provider_is_drawn_from_the_live_figures(page, sent):
    base, campaign_id = sent
    open_campaign(page, base, campaign_id, 1280)
    expect(bar(page, "rate-providers", "alpha")).to_have_attribute("data-value", "0.7500")
    expect(bar(page, "rate-providers", "alpha")).to_contain_text("75.0 %")
    expect(bar(page, "rate-providers", "beta")).to_have_attribute("data-value", "0.5000")


def test_delivery_rate_by_network_is_drawn_from_the_live_figures(page, sent):
    base, campaign_id = sent
    open_campaign(page, base, campaign_id, 1280)
    expect(bar(page, "rate-networks", "MCC-MNC 434-04")).to_contain_text("75.0 %")  # no price table names them
    expect(bar(page, "rate-networks", "MCC-MNC 434-05")).to_contain_text("50.0 %")


def test_cost_by_provider_is_drawn_from_the_live_figures(page, sent):
    base, campaign_id = sent
    open_campaign(page, base, campaign_id, 1280)
    expect(bar(page, "cost-providers", "alpha")).to_have_attribute("data-value", "0.080000")
    expect(bar(page, "cost-providers", "beta")).to_contain_text("0.10 USD")
    screenshot(page, "campaign-charts-1280")


@pytest.mark.parametrize("width", [768, 1280])
def test_the_page_with_its_charts_does_not_scroll_sideways(page, sent, width):
    base, campaign_id = sent
    open_campaign(page, base, campaign_id, width)
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
    assert page.locator("#cost-providers").bounding_box()["width"] > 200  # readable, not squeezed
    screenshot(page, f"campaign-charts-{width}")
