"""Someone who uses only a keyboard (Tab, Enter, typing) signs in, finds the template editor from the
header and saves a template in two languages, and sees at every step where the focus is: a visible
outline on each element Tab reaches, and a first Tab that offers to skip the header's links."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engage.engine.store.schema import Campaign, Template, TemplateVariant
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.browser import screenshot
from tests.fixtures.web import PASSWORD, add_user

MOST_TABS = 40  # more presses than this to reach something is a page no keyboard user would bear


@pytest.fixture
def keyboard(site, quick_hashes, page):
    engine, base = site
    add_user(engine, "mara@example.com", "marketer")
    return engine, base, page


def focused(page) -> dict:
    """What has the focus: its tag, text, name, and whether an outline shows it."""
    return page.evaluate("""() => {
      const e = document.activeElement, style = getComputedStyle(e);
      return {tag: e.tagName.toLowerCase(), text: (e.innerText || '').trim(), name: e.getAttribute('name') || '',
              visible: (e.matches(':focus-visible') || e.matches(':focus-within')) && style.outlineStyle !== 'none'
                       && parseFloat(style.outlineWidth) >= 2};
    }""")


def tab_to(page, wanted) -> dict:  # noqa: ANN001 - wanted: a test of focused()'s answer
    """Press Tab until ``wanted`` has the focus, checking on the way that every stop shows it."""
    for _ in range(MOST_TABS):
        page.keyboard.press("Tab")
        now = focused(page)
        assert now["visible"], f"the focus on {now} does not show"
        if wanted(now):
            return now
    raise AssertionError(f"{MOST_TABS} presses of Tab never reached it")


def sign_in_by_keyboard(page, base: str) -> None:
    page.goto(f"{base}/login?next=/dashboard")
    page.locator("input[name=email]:focus").wait_for()  # the email field has the focus as the page opens
    page.keyboard.type("mara@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    expect(page.locator("input[name=email]")).to_have_value("mara@example.com")  # no keystroke lost
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/dashboard")


def test_a_template_is_written_and_saved_with_the_keyboard_alone(keyboard):
    engine, base, page = keyboard
    sign_in_by_keyboard(page, base)
    tab_to(page, lambda f: f["tag"] == "a" and f["text"] == "Templates")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/templates")
    tab_to(page, lambda f: f["text"] == "New template")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/templates/new")
    tab_to(page, lambda f: f["name"] == "name")
    page.keyboard.type("Weekend offer")
    tab_to(page, lambda f: f["tag"] == "textarea")
    page.keyboard.type("Hi {{ first_name | default('friend') }}, 2 GB free this weekend!")
    page.locator("fieldset.variant .meter").filter(has_text="GSM-7").wait_for()
    tab_to(page, lambda f: f["text"] == "Add a language or arm")
    page.keyboard.press("Enter")  # the new variant's language takes the focus
    page.keyboard.type("ru")
    tab_to(page, lambda f: f["tag"] == "textarea")
    page.keyboard.type("Привет, {{ first_name | default('друг') }}!")
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Save")
    screenshot(page, "keyboard-save-focused")
    page.keyboard.press("Enter")
    page.locator("#done").wait_for()
    with engine.connect() as conn:
        saved = conn.execute(select(TemplateVariant.language, TemplateVariant.body).join(
            Template, Template.id == TemplateVariant.template_id).where(Template.name == "Weekend offer")).all()
    assert dict(saved) == {"en": "Hi {{ first_name | default('friend') }}, 2 GB free this weekend!",
                           "ru": "Привет, {{ first_name | default('друг') }}!"}


def test_the_first_tab_offers_to_skip_the_headers_links_to_the_content(keyboard):
    _, base, page = keyboard
    sign_in_by_keyboard(page, base)
    page.keyboard.press("Tab")
    first = focused(page)
    assert first["text"] == "Skip to the page’s content" and first["visible"]
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    after = tab_to(page, lambda f: True)
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)"), after


def test_a_campaign_is_made_in_the_wizard_with_the_keyboard_alone(keyboard):
    engine, base, page = keyboard
    add_subscribers(engine, 3)
    make_campaign(engine, name="earlier")  # a segment "s earlier" and a template "t earlier"
    sign_in_by_keyboard(page, base)
    tab_to(page, lambda f: f["tag"] == "a" and f["text"] == "Campaigns")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/campaigns")
    tab_to(page, lambda f: f["text"] == "New campaign")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/campaigns/new")
    tab_to(page, lambda f: f["name"] == "name")
    page.keyboard.type("By keyboard")
    tab_to(page, lambda f: f["name"] == "segment")
    page.keyboard.press("ArrowDown")  # the first segment after "Choose a segment…"
    tab_to(page, lambda f: f["text"] == "Next")
    page.keyboard.press("Enter")
    page.locator("select[name=template]:focus").wait_for()  # the next step's first field has the focus
    page.keyboard.press("ArrowDown")
    tab_to(page, lambda f: f["name"] == "sender")
    page.keyboard.type("Shop")
    tab_to(page, lambda f: f["text"] == "Next")
    page.keyboard.press("Enter")
    page.locator("select[name=schedule]:focus").wait_for()
    tab_to(page, lambda f: f["text"] == "Next")
    page.keyboard.press("Enter")
    page.locator("#review .preview").first.wait_for()
    tab_to(page, lambda f: f["text"] == "Create draft")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/campaigns/*?done=*")
    screenshot(page, "keyboard-campaign")
    with engine.connect() as conn:
        assert conn.execute(select(Campaign.name).where(Campaign.name == "By keyboard")).scalar() == "By keyboard"
