"""In a real browser: a person finds their own zone on the account page (reached from their name in
the header) by typing a city, or takes the one their browser's clock is set to; from then on the
pages show times in it with the zone named, the audit log first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from engage.engine import audit_log
from engage.engine.users import get_user
from engage.engine.users.zones import format_moment
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user

pytestmark = pytest.mark.usefixtures("quick_hashes")


@pytest.fixture
def installation_in_tashkent(monkeypatch):
    monkeypatch.setenv("ENGAGE_DEFAULT_TIMEZONE", "Asia/Tashkent")


@pytest.fixture
def page_in_sao_paulo(chromium) -> Iterator[object]:
    """A page whose browser clock is set to America/Sao_Paulo; a CSP refusal fails the test, as with `page`."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, timezone_id="America/Sao_Paulo")
    page = context.new_page()
    page.set_default_timeout(15_000)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert not refused, f"the Content-Security-Policy refused: {refused}"


def test_an_admin_finds_their_zone_by_city_and_the_audit_log_then_shows_times_in_it_named(
        site, page, installation_in_tashkent):
    engine, base = site
    add_user(engine, "root@example.com", "admin")
    sign_in(page, base, "root@example.com", "/dashboard")
    page.locator("header #user").click()
    page.wait_for_url(f"{base}/account")
    expect(page.locator("#current-zone")).to_have_text("Asia/Tashkent")

    page.locator("#zone-filter").fill("kolkata")
    expect(page.locator("#timezone option[value='Asia/Kolkata']")).to_be_visible()
    expect(page.locator("#timezone option[value='Europe/Berlin']")).to_be_hidden()
    page.locator("#timezone").select_option("Asia/Kolkata")
    screenshot(page, "account-zone-found")
    page.locator("#save-zone").click()
    expect(page.locator("#done")).to_have_text("Saved: times are now shown in Asia/Kolkata.")
    expect(page.locator("#current-zone")).to_have_text("Asia/Kolkata")

    page.goto(f"{base}/audit?action=user.set_timezone")
    with engine.connect() as conn:
        saved_at = audit_log.entries(conn, action="user.set_timezone")[0]["at"]
    shown = page.locator("#audit tbody tr").first.locator("td.when")
    expect(shown).to_have_text(format_moment(saved_at, "Asia/Kolkata", seconds=True))
    expect(shown).to_contain_text("Asia/Kolkata (UTC+05:30)")
    screenshot(page, "audit-in-own-zone")


def test_the_account_page_offers_the_zone_the_browsers_clock_is_set_to_until_it_is_chosen(
        site, page_in_sao_paulo, installation_in_tashkent):
    engine, base = site
    page = page_in_sao_paulo
    add_user(engine, "mara@example.com", "marketer")
    sign_in(page, base, "mara@example.com", "/account")
    offer = page.locator("#browser-zone")
    expect(offer).to_contain_text("Your browser's clock is set to America/Sao_Paulo.")
    page.locator("#use-browser-zone").click()
    expect(page.locator("#timezone")).to_have_value("America/Sao_Paulo")
    page.locator("#save-zone").click()
    expect(page.locator("#done")).to_have_text("Saved: times are now shown in America/Sao_Paulo.")
    with engine.connect() as conn:
        assert get_user(conn, "mara@example.com").timezone == "America/Sao_Paulo"
    expect(offer).to_be_hidden()
