"""The campaign wizard's checks in the browser: a bad option is refused with the engine's message and
what was typed is kept; a test send from the campaign page makes a test campaign of its own."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.browser import sign_in
from tests.fixtures.web import add_user


@pytest.fixture
def wizard(site, quick_hashes, page):
    engine, base = site
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine, actor="mara@example.com")  # also a segment and a template
    add_user(engine, "mara@example.com", "marketer")
    sign_in(page, base, "mara@example.com", "/campaigns/new")
    return engine, base, page, campaign_id


def test_a_bad_sender_id_is_refused_with_the_reason_and_the_form_keeps_its_values(wizard):
    _, _, page, _ = wizard
    page.fill("input[name=name]", "Too long")
    page.fill("input[name=sender]", "MyVeryLongBrand")
    page.click("#create")
    expect(page.locator("#error")).to_have_text(
        "sender id 'MyVeryLongBrand': alphanumeric sender ids have at most 11 characters")
    expect(page.locator("input[name=name]")).to_have_value("Too long")


def test_a_bad_schedule_is_refused_naming_it(wizard):
    _, _, page, _ = wizard
    page.fill("input[name=name]", "Cron")
    page.fill("input[name=sender]", "Shop")
    page.locator("#schedule").select_option("cron")
    page.fill("input[name=cron]", "61 * * * *")
    page.click("#create")
    expect(page.locator("#error")).to_contain_text("schedule:")


def test_a_test_send_from_the_campaign_page_makes_a_test_campaign(wizard):
    _, base, page, campaign_id = wizard
    page.goto(f"{base}/campaigns/{campaign_id}")
    page.fill("#test-send input[name=numbers]", "+998901234567, 998 97 111 22 33")
    page.click("#test-send button")
    expect(page.locator("#done")).to_contain_text("test sent to 2 numbers as campaign")
