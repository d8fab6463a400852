"""A marketer sets a loyalty programme up in the browser alone: Loyalty offers to set one up, the new
programme form takes its code, name and currency, a mistake in its settings is shown beside the field,
then its levels and a reward in two languages, found in the catalogue with its price."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_marketer_sets_up_a_programme_and_a_reward_from_the_pages(page, site, quick_hashes):
    engine, base = site
    add_user(engine, "mia@example.com", "marketer")
    sign_in(page, base, "mia@example.com", "/dashboard")
    page.get_by_role("link", name="Loyalty").click()
    page.click("#new-programme")
    page.fill("#code", "club")
    page.fill("#name", "Beeline Club")
    page.fill("#currency", "UZS")
    page.fill("#point_value", "10")
    page.check("#never")
    page.click("#create")
    expect(page.locator("#done")).to_contain_text("Programme created")
    page.fill("#expiry_notice_days", "10")
    page.fill("#sender", "Магазин")
    page.click("#save")
    expect(page.locator("#error-sms_sender")).to_contain_text("alphanumeric sender ids use letters of the GSM")
    expect(page.locator("#expiry_notice_days")).to_have_value("10")  # as typed
    page.fill("#sender", "Beeline")
    page.click("#save")
    expect(page.locator("#done")).to_have_text("Settings saved.")
    screenshot(page, "loyalty-settings")

    page.locator("#programme-nav").get_by_role("link", name="Levels").click()
    for row, (name, points) in enumerate((("Blue", "0"), ("Gold", "5000")), 1):
        page.fill(f"#level-name-{row}", name)
        page.fill(f"#level-min-{row}", points)
    page.click("#save")
    expect(page.locator("#done")).to_contain_text("Levels saved")
    expect(page.locator("#level-name-2")).to_have_value("gold")

    page.locator("#programme-nav").get_by_role("link", name="Rewards").click()
    page.click("#new-reward")
    page.fill("#code", "data1gb")
    page.fill("#name-1", "1 GB of data")
    page.get_by_label("Row 2: language").fill("ru")
    page.get_by_label("Row 2: name").fill("1 ГБ интернета")
    page.fill("#points", "500")
    page.fill("#stock", "1000")
    page.select_option("#level", "gold")
    page.click("#save")
    expect(page.locator("#done")).to_have_text("Reward saved.")
    screenshot(page, "loyalty-reward")
    page.get_by_role("link", name="← Rewards").click()
    row = page.locator("#rewards tr[data-reward=data1gb]")
    expect(row).to_contain_text("ru: 1 ГБ интернета")
    expect(row).to_contain_text("500")
    expect(row).to_contain_text("gold")
