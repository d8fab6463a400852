"""Every main page at tablet width (768 px) and at 1280 px: the page itself never scrolls sideways
(wide tables scroll inside their own box) and the navigation stays reachable."""

from __future__ import annotations

import pytest

from tests.audience_people import add_people
from tests.campaign_setup import make_campaign
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user

PAGES = ["/dashboard", "/campaigns", "/campaigns/new", "/campaigns/{cid}", "/campaigns/{cid}/edit", "/segments",
         "/segments/new", "/subscribers", "/subscribers/1", "/subscribers/import", "/templates", "/templates/new",
         "/approvals", "/providers", "/users", "/audit"]


@pytest.fixture
def ui(site, quick_hashes):
    engine, base = site
    add_people(engine)
    add_user(engine, "ada@example.com", "admin")
    cid = make_campaign(engine, name="A campaign whose name is rather long so that it has to wrap somewhere")
    return base, cid


def overflow(page) -> int:
    """How many pixels the page is wider than the window."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.parametrize("width", [768, 1280])
def test_no_main_page_scrolls_sideways(page, ui, width):
    base, cid = ui
    page.set_viewport_size({"width": width, "height": 1000})
    sign_in(page, base, "ada@example.com")
    wide = {}
    for path in PAGES:
        page.goto(base + path.format(cid=cid))
        if overflow(page) > 0:
            wide[path] = overflow(page)
        screenshot(page, f"w{width}{path.replace('/', '_')}")
    assert wide == {}


def test_the_navigation_is_reachable_at_tablet_width(page, ui):
    base, _ = ui
    page.set_viewport_size({"width": 768, "height": 1000})
    sign_in(page, base, "ada@example.com")
    for link in ("Campaigns", "Segments", "Templates", "Approvals", "Providers"):
        assert page.locator("header nav").get_by_role("link", name=link).is_visible()
