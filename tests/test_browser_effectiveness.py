"""An analyst, in a real browser, goes from the header to a campaign's effectiveness report, reads the
uplift against the control group, downloads a table, judges the campaign on another conversion and
compares it with another campaign. On PostgreSQL (the report's engine checks run on both databases in
tests/test_effectiveness_*.py)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user
from tests.test_effectiveness_pages import planted


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_analyst_opens_a_report_reads_its_uplift_and_downloads_its_groups(page, site, quick_hashes):
    engine, base = site
    cid = planted(engine, "Spring bonus")
    add_user(engine, "ana@example.com", "analyst")
    sign_in(page, base, "ana@example.com", "/dashboard")
    page.get_by_role("link", name="Analytics").click()
    page.get_by_role("link", name="Spring bonus").click()
    page.wait_for_url(re.compile(rf".*/campaigns/{cid}/effectiveness$"))
    expect(page.locator("#treated-rate")).to_have_text("30.0 %")
    expect(page.locator("#control-rate")).to_have_text("10.0 %")
    expect(page.locator("#verdict")).to_contain_text("sending raised it by 20.0 points")
    expect(page.get_by_role("img", name=re.compile("^funnel: Recipients 3000"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("uplift in conversion by region"))).to_be_visible()
    screenshot(page, "effectiveness-report")
    with page.expect_download() as download:
        page.get_by_role("link", name="groups.csv").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert {r["dimension"] for r in rows} == {"region", "contract_type", "age_band", "tenure_band"}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_analyst_judges_a_campaign_on_another_conversion_and_compares_it(page, site, quick_hashes):
    engine, base = site
    first, second = planted(engine, "Recharge push"), planted(engine, "Data push")
    add_user(engine, "ana@example.com", "analyst")
    sign_in(page, base, "ana@example.com", f"/campaigns/{second}/effectiveness")
    page.fill("#conversion_kind", "data")
    page.fill("#conversion_days", "3")
    page.get_by_role("button", name="Save and recompute").click()
    expect(page.locator("#done")).to_have_text("Settings saved and the figures recomputed.")
    expect(page.locator("#computed")).to_contain_text("data within 3 days after delivery")
    page.get_by_role("link", name="All reports").click()
    page.get_by_label("compare Recharge push").check()
    page.get_by_label("compare Data push").check()
    page.get_by_role("button", name="Compare the ticked campaigns").click()
    expect(page.locator(f'#compared tr[data-campaign="{first}"]')).to_contain_text("recharge, 7 days")
    expect(page.locator(f'#compared tr[data-campaign="{second}"]')).to_contain_text("data, 3 days")
    expect(page.locator("#not-comparable")).to_contain_text("judged on different conversions")
    screenshot(page, "effectiveness-compared")
