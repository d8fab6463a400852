"""A marketer opens Loyalty from the header, writes an earning rule, tries it on a few calls before
saving (250 minutes give 20 points, the next 50 complete the third ten), sees a mistake named, then
creates it and finds it listed with what it gives."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engage.engine.loyalty import programmes
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_marketer_creates_an_earning_rule_after_trying_it(page, site, quick_hashes):
    engine, base = site
    with engine.begin() as conn:
        programmes.create(conn, "club", "Beeline Club")
    add_user(engine, "mia@example.com", "marketer")
    sign_in(page, base, "mia@example.com", "/dashboard")
    page.get_by_role("link", name="Loyalty").click()
    expect(page.locator("#programme-name")).to_contain_text("Beeline Club")
    page.click("#new-rule")
    page.fill("#code", "calls")
    page.fill("#name", "Outgoing calls")
    page.fill("#definition", '{"kind": "call_out", "every": 100, "points": 10}')
    page.fill("#events", "2027-01-05T09:00=250\n2027-01-05T10:00=50")
    page.click("#try")
    expect(page.locator("#tried-total")).to_have_text("In all: 30 points.")
    expect(page.locator("#tried td[data-points]")).to_have_text(["20", "10"])
    page.fill("#definition", '{"kind": "call_out", "every": 0, "points": 10}')
    page.click("#save")
    expect(page.locator("#error")).to_contain_text("every: 0")
    expect(page.locator("#code")).to_have_value("calls")  # as typed
    page.fill("#definition", '{"kind": "call_out", "every": 100, "points": 10, "multipliers": {"gold": 2}}')
    page.click("#save")
    expect(page.locator("#done")).to_contain_text("Rule saved")
    expect(page.locator("#versions")).to_contain_text("10 points for every 100 minutes of outgoing calls (x2 gold)")
    screenshot(page, "loyalty-rule")
    page.get_by_role("link", name="← Beeline Club").click()
    expect(page.locator("#rules tr[data-rule=calls]")).to_contain_text("Outgoing calls")
