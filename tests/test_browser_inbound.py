"""Support finds what a subscriber texted from the header's Inbound link, and sees what STOP did."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import insert

from engage.engine.keywords.handling import handle_pending
from engage.engine.store.schema import InboundMessage
from tests.fixtures.browser import sign_in
from tests.fixtures.web import add_user


def test_support_finds_a_subscribers_stop_by_keyword(page, site, quick_hashes):
    engine, base = site
    with engine.begin() as conn:
        conn.execute(insert(InboundMessage.__table__), [
            {"provider_id": 1, "source": "998901000001", "destination": "5555", "text": " Stop! ", "handled": False},
            {"provider_id": 1, "source": "998901000002", "destination": "5555", "text": "hello", "handled": False}])
    handle_pending(engine)
    add_user(engine, "sue@example.com", "support")
    sign_in(page, base, "sue@example.com", "/dashboard")
    page.get_by_role("link", name="Inbound").click()
    expect(page.locator("#inbound tbody tr")).to_have_count(2)
    page.fill("#keyword", "stop")
    page.click("#inbound-search button")
    rows = page.locator("#inbound tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator(".keyword")).to_have_text("STOP")
    expect(rows.locator(".number")).to_have_text("998901000001")
