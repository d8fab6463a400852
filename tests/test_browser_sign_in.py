"""Signing in, in a real browser (Chromium through Playwright): the form, a wrong password, the pages
behind it, signing out, and a form posted without its XSRF token."""

from __future__ import annotations

import pytest

from tests.fixtures.browser import screenshot
from tests.fixtures.web import PASSWORD, add_user


@pytest.fixture
def ui(site, quick_hashes):
    engine, base = site
    add_user(engine, "mara@example.com", "marketer")
    return base


def sign_in(page, base, email="mara@example.com", password=PASSWORD):
    page.goto(f"{base}/campaigns")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_a_page_asks_to_sign_in_and_then_shows_the_page_asked_for(page, ui):
    page.goto(f"{ui}/campaigns")
    assert "/login" in page.url
    screenshot(page, "login")
    sign_in(page, ui)
    page.wait_for_url(f"{ui}/campaigns")
    assert "mara@example.com" in page.content()
    screenshot(page, "campaigns")


def test_a_wrong_password_is_refused_with_a_message_on_the_form(page, ui):
    sign_in(page, ui, password="not the password")
    assert page.locator("#error").inner_text() == "wrong email or password"
    assert "/login" in page.url


def test_signing_out_ends_the_session(page, ui):
    sign_in(page, ui)
    page.wait_for_url(f"{ui}/campaigns")
    page.click("text=Sign out")
    page.goto(f"{ui}/campaigns")
    assert "/login" in page.url


def test_a_form_posted_without_its_xsrf_token_is_refused(page, ui):
    sign_in(page, ui)
    page.wait_for_url(f"{ui}/campaigns")
    status = page.evaluate("""async () => {
        const body = new URLSearchParams({email: 'x@example.com', password: 'y'});
        return (await fetch('/logout', {method: 'POST', body})).status;
    }""")
    assert status == 403
