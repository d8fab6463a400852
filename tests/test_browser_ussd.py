"""A marketer builds a two-level USSD menu in the browser's editor, sees its tree, and walks it in the
phone emulator as a subscriber would: down to the second level, back with 0, and to the end."""

from __future__ import annotations

import re
import textwrap

from playwright.sync_api import expect

from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user

TWO_LEVELS = textwrap.dedent("""\
    name: Club
    screens:
      home:
        type: menu
        text: Welcome to the club
        options:
          - label: Offers
            next: offers
          - label: Exit
            next: bye
      offers:
        type: menu
        text: Offers today
        options:
          - label: Data bundle
            next: bye
      bye:
        type: end
        text: Goodbye
""")
HOME = "Welcome to the club\n1. Offers\n2. Exit"
OFFERS = "Offers today\n1. Data bundle"


def test_a_marketer_builds_a_two_level_menu_and_walks_it_in_the_emulator(page, site, quick_hashes):
    engine, base = site
    add_user(engine, "mia@example.com", "marketer")
    sign_in(page, base, "mia@example.com", "/dashboard")
    page.get_by_role("link", name="USSD").click()
    page.click("#new-menu")
    page.fill("#menu-code", "*150#")
    page.locator("#document").press_sequentially(TWO_LEVELS)
    page.click("#save")
    page.wait_for_url(re.compile(r".*/menus/\d+\?saved=1$"))
    expect(page.locator("#done")).to_have_text("Menu saved.")
    tree = page.locator("#menu-tree li")
    expect(tree).to_have_count(4)
    expect(tree.nth(1)).to_contain_text("1. Offers → offers")
    expect(tree.nth(2)).to_contain_text("1. Data bundle → bye")
    expect(tree.nth(3)).to_contain_text("2. Exit → ↩ bye")
    screenshot(page, "ussd_menu_editor")

    page.click("#try-menu")
    page.wait_for_url(re.compile(r".*/menus/phone\?code="))
    screen = page.locator("#phone-screen")
    page.fill("#dial", "*150#")
    page.click("#call")
    expect(screen).to_have_text(HOME)
    page.click("#keys button[data-key='1']")  # the keypad types into the reply box
    page.click("#send")
    expect(screen).to_have_text(OFFERS)
    page.fill("#answer", "0")
    page.click("#send")
    expect(screen).to_have_text(HOME)
    page.fill("#answer", "1")
    page.press("#answer", "Enter")
    expect(screen).to_have_text(OFFERS)
    screenshot(page, "ussd_phone_emulator")
    page.fill("#answer", "1")
    page.click("#send")
    expect(screen).to_have_text("Goodbye")
    expect(page.locator("#phone-status")).to_have_text("Session ended.")
    expect(page.locator("#dial-form")).to_be_visible()
    expect(page.locator("#answer-form")).to_be_hidden()


def test_an_error_of_a_refused_menu_takes_the_caret_to_its_line(page, site, quick_hashes):
    engine, base = site
    add_user(engine, "al@example.com", "admin")
    sign_in(page, base, "al@example.com", "/menus/new")
    page.fill("#menu-code", "*150#")
    page.fill("#document", TWO_LEVELS.replace("next: offers", "next: offer"))
    page.click("#save")
    error = page.locator("#menu-errors li").first
    expect(error).to_contain_text("line 8 · screen home: option 1: unknown next screen 'offer'")
    expect(page.locator("#gutter")).to_contain_text("20")  # the lines are numbered
    screenshot(page, "ussd_menu_errors")
    error.locator("a.to-line").click()
    selected = page.evaluate("() => { const a = document.getElementById('document');"
                             " return a.value.slice(a.selectionStart, a.selectionEnd); }")
    assert selected == "        next: offer"
