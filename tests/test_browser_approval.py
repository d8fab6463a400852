"""Maker-checker in the browser: a marketer submits a campaign, which waits for approval; the
marketer cannot approve it; an approver sees it on the approvals page with its reach and approves
it; an analyst gets no campaign buttons and is refused if they post anyway, or launch through the API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.engine import statuses as st
from engage.engine.campaigns import lifecycle
from engage.engine.providers.records import add_smpp
from engage.engine.routes.price_tables import import_csv
from engage.engine.store.schema import Campaign
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user


@pytest.fixture
def ui(site, quick_hashes):
    engine, base = site
    add_subscribers(engine, 12)
    for email, role in (("mara@example.com", "marketer"), ("abe@example.com", "approver"),
                        ("ana@example.com", "analyst")):
        add_user(engine, email, role)
    return engine, base, make_campaign(engine, actor="mara@example.com")




def status(engine, campaign_id):
    with engine.connect() as conn:
        return conn.execute(select(Campaign.status).where(Campaign.id == campaign_id)).scalar_one()


def test_a_marketers_campaign_is_approved_by_an_approver(page, ui):
    engine, base, campaign_id = ui
    sign_in(page, base, "mara@example.com", f"/campaigns/{campaign_id}")
    page.click("button[value=submit]")
    assert page.locator("#done").inner_text() == "Campaign submitted: waiting for approval."
    assert page.locator("#status").inner_text() == "Awaiting approval"
    assert page.locator("#status").get_attribute("data-status") == st.CAMPAIGN_AWAITING_APPROVAL
    assert page.locator("button[value=approve]").count() == 0  # a marketer gets no approve button
    page.click("text=Sign out")
    sign_in(page, base, "abe@example.com", "/approvals")
    row = page.locator(f"article[data-campaign='{campaign_id}']")
    assert "12 will get a message" in row.locator(".review-audience").inner_text()
    screenshot(page, "approvals")
    row.get_by_role("button", name="Approve").click()
    assert page.locator("#done").inner_text() == "Campaign approved."
    assert status(engine, campaign_id) == st.CAMPAIGN_SCHEDULED


def test_a_marketer_cannot_approve_their_own_campaign_even_by_posting(page, ui):
    engine, base, campaign_id = ui
    sign_in(page, base, "mara@example.com", f"/campaigns/{campaign_id}")
    page.click("button[value=submit]")
    answer = page.evaluate(f"""async () => {{
        const xsrf = document.querySelector('input[name=_xsrf]').value;
        const r = await fetch('/campaigns/{campaign_id}/approve', {{method: 'POST',
            body: new URLSearchParams({{_xsrf: xsrf}})}});
        return r.status;
    }}""")
    assert answer == 403 and status(engine, campaign_id) == st.CAMPAIGN_AWAITING_APPROVAL


def test_an_analyst_sees_no_buttons_and_cannot_submit(page, ui):
    engine, base, campaign_id = ui
    sign_in(page, base, "ana@example.com", f"/campaigns/{campaign_id}")
    assert page.locator("#actions").count() == 0
    answer = page.evaluate(f"""async () => {{
        const xsrf = document.querySelector('input[name=_xsrf]').value;
        return (await fetch('/campaigns/{campaign_id}/submit', {{method: 'POST',
            body: new URLSearchParams({{_xsrf: xsrf}})}})).status;
    }}""")
    assert answer == 403 and status(engine, campaign_id) == st.CAMPAIGN_DRAFT


def test_an_analyst_cannot_launch_an_approved_campaign_even_through_the_api(page, ui):
    engine, base, campaign_id = ui
    with engine.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="mara@example.com", role="marketer")
        lifecycle.approve(conn, campaign_id, actor="abe@example.com")
    sign_in(page, base, "ana@example.com", f"/campaigns/{campaign_id}")
    assert page.locator("button[value=launch]").count() == 0
    answer = page.evaluate(f"""async () => {{
        const xsrf = document.querySelector('input[name=_xsrf]').value;
        const r = await fetch('/api/v1/campaigns/{campaign_id}/launch', {{method: 'POST',
            headers: {{'X-XSRFToken': xsrf, 'Content-Type': 'application/json'}}, body: '{{}}'}});
        return [r.status, (await r.json()).error];
    }}""")
    assert answer[0] == 403 and "analyst" in answer[1]
    assert status(engine, campaign_id) == st.CAMPAIGN_SCHEDULED


def test_the_approvals_page_shows_what_sending_would_cost(page, ui, tmp_path):
    engine, base, campaign_id = ui
    with engine.begin() as conn:
        add_smpp(conn, name="mts", host="127.0.0.1", port=2775, system_id="e", password="p", actor="t")
    prices = tmp_path / "prices.csv"
    prices.write_text("provider,prefix,price,currency,valid_from\nmts,99890,0.02,USD,2020-01-01\n", encoding="utf-8")
    import_csv(engine, prices, actor="t")
    lifecycle.perform(engine, campaign_id, "submit", actor="mara@example.com", role="marketer")
    sign_in(page, base, "abe@example.com", "/approvals")
    cost = page.locator(f"article[data-campaign='{campaign_id}'] .review-cost")
    assert cost.inner_text() == "0.24 USD for 12 parts"  # 12 recipients x 1 part x 0.02
