"""The dashboard: today's messages and delivery rate, running and scheduled campaigns, provider
health, within the viewer's branch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect
from sqlalchemy import update

from engage.engine import dashboard
from engage.engine.campaigns import lifecycle
from engage.engine.campaigns.launching import launch_run
from engage.engine.store.schema import Message
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.browser import screenshot
from tests.fixtures.web import PASSWORD, add_user, signed_in

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _scene(engine):
    add_subscribers(engine, 4)
    running = make_campaign(engine, name="running")
    launch_run(engine, running, NOW, actor="t", now=NOW)
    with engine.begin() as conn:
        conn.execute(update(Message.__table__).values(status="delivered", queued_at=NOW - timedelta(hours=1)))
        conn.execute(update(Message.__table__).where(Message.subscriber_id == 4).values(status="failed"))
    scheduled = make_campaign(engine, name="later", schedule={"kind": "daily", "time": "10:00"})
    with engine.begin() as conn:
        lifecycle.submit(conn, scheduled, actor="maker", now=NOW)
    return running, scheduled


def test_the_figures_count_todays_messages_and_the_delivery_rate(engine):
    _scene(engine)
    with engine.connect() as conn:
        f = dashboard.figures(conn, branch=None, now=NOW)
    assert (f["messages_today"], f["delivered_today"], f["delivery_rate"]) == (4, 3, 0.75)
    assert [c["name"] for c in f["running"]] == ["running"] and [c["name"] for c in f["scheduled"]] == ["later"]


def test_another_branch_sees_none_of_it(engine):
    _scene(engine)
    with engine.connect() as conn:
        f = dashboard.figures(conn, branch="south", now=NOW)
    assert (f["messages_today"], f["running"], f["scheduled"]) == (0, [], [])


def test_signing_in_lands_on_the_dashboard(site, quick_hashes, page):
    engine, base = site
    _scene(engine)
    add_user(engine, "ana@example.com", "analyst")
    page.goto(f"{base}/")
    page.fill("input[name=email]", "ana@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base}/dashboard")
    expect(page.locator("#running-count")).to_have_text("1")
    expect(page.locator("#scheduled-count")).to_have_text("1")
    screenshot(page, "dashboard")


def test_a_dashboard_with_no_active_campaign_says_so_and_offers_a_new_one(site, quick_hashes):
    engine, base = site
    page = signed_in(engine, base, "marketer").get("/dashboard")
    assert "No campaign is running, scheduled or awaiting approval." in page.body
    assert 'id="new-campaign" class="button">New campaign</a>' in page.body


def test_an_analyst_sees_no_new_campaign_action_on_the_dashboard(site, quick_hashes):
    engine, base = site
    assert 'id="new-campaign"' not in signed_in(engine, base, "analyst").get("/dashboard").body
