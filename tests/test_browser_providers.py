"""Providers and routes in the browser: provider health and the prices in force; an admin uploads a
price table and sees each bad row with its line, field and reason while the good rows are kept."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engage.engine.providers.records import add_smpp
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import Browser, add_user


@pytest.fixture
def providers(site, quick_hashes, page):
    engine, base = site
    with engine.begin() as conn:
        add_smpp(conn, name="mts", host="127.0.0.1", port=2775, system_id="e", password="p", actor="t")
    add_user(engine, "root@example.com", "admin")
    sign_in(page, base, "root@example.com", "/providers")
    return engine, base, page


def test_an_uploaded_price_table_keeps_good_rows_and_lists_bad_ones(providers, tmp_path):
    _, _, page = providers
    expect(page.locator("tr[data-provider=mts]")).to_contain_text("down")  # no sender has reported yet
    prices = tmp_path / "prices.csv"
    prices.write_text("provider,prefix,mcc_mnc,network,price,currency,valid_from\n"
                      "mts,99890,,MTS,0.0100,USD,2026-01-01\n"
                      "nobody,99891,,X,0.02,USD,2026-01-01\n"
                      "mts,99897,,MTS,-1,USD,2026-01-01\n", encoding="utf-8")
    page.set_input_files("input[name=prices]", str(prices))
    page.click("#import-prices button")
    expect(page.locator("#done")).to_have_text("1 of 3 price rows imported, 2 rejected.")
    expect(page.locator("#rejected tbody tr")).to_have_count(2)
    expect(page.locator("#prices")).to_contain_text("99890")
    screenshot(page, "providers")


def test_only_admins_may_upload_prices(site, quick_hashes):
    engine, base = site
    add_user(engine, "mara@example.com", "marketer")
    browser = Browser(base)
    browser.sign_in("mara@example.com")
    assert browser.get("/providers").status == 200
    assert browser.post_form("/providers", {}).status == 403


def test_an_admin_on_an_empty_page_follows_it_to_add_an_smpp_provider(site, quick_hashes, page):
    engine, base = site
    add_user(engine, "root@example.com", "admin")
    sign_in(page, base, "root@example.com", "/providers")
    expect(page.locator("#no-providers")).to_contain_text("No providers yet")
    page.click("#no-providers a[href='#add-provider']")
    page.fill("#provider-name", "beeline")
    page.fill("#provider-host", "smsc.example.com")
    page.fill("#provider-system-id", "engage")
    page.fill("#provider-password", "secret")
    page.click("#add-provider-button")
    expect(page.locator("#added")).to_contain_text("Provider beeline added.")
    expect(page.locator("tr[data-provider=beeline]")).to_contain_text("down")
    expect(page.locator("#no-prices a[href='#import-prices']")).to_be_visible()
    screenshot(page, "providers-added")
