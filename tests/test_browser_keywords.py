"""A marketer adds a keyword from the header's Keywords link, tests a text against it, and sees a
mistake named on the form."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.fixtures.browser import sign_in
from tests.fixtures.web import add_user


def test_a_marketer_adds_a_keyword_and_tests_a_text_against_it(page, site, quick_hashes):
    engine, base = site
    add_user(engine, "mia@example.com", "marketer")
    sign_in(page, base, "mia@example.com", "/dashboard")
    page.get_by_role("link", name="Keywords").click()
    expect(page.locator("#keywords")).to_contain_text("STOP")
    page.click("#new-keyword")
    page.fill("#word", "join")
    page.fill("#short_code", "4455")
    page.select_option("#steps .step >> nth=0 >> select", "tag")
    page.fill("#steps .step >> nth=0 >> input", "quiz")
    page.select_option("#steps .step >> nth=1 >> select", "webhook")
    page.fill("#steps .step >> nth=1 >> input", "ftp://nowhere")
    page.click("#save")
    expect(page.locator("#error")).to_contain_text("step 2 (webhook)")
    expect(page.locator("#word")).to_have_value("join")  # as typed
    page.select_option("#steps .step >> nth=1 >> select", "")
    page.click("#save")
    expect(page.locator("#done")).to_have_text("Keyword saved.")
    page.get_by_role("link", name="← Keywords").click()
    page.fill("#try", " Join! now")
    page.fill("#try-code", "4455")
    page.click("#try-text button")
    expect(page.locator("#tried")).to_contain_text("keyword JOIN")
    expect(page.locator("#tried-does")).to_contain_text("Tag the subscriber: tag=quiz")
