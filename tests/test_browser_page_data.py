"""Data a page hands to its script travels in a JSON block that no stored text can end or bend:
a segment named like the start of an HTML comment and a script still opens in its builder."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engage.engine.segments import store as segments
from tests.audience_people import add_people
from tests.fixtures.browser import sign_in
from tests.fixtures.web import add_user

TASHKENT = {"field": "city", "op": "eq", "value": "Tashkent"}


@pytest.fixture
def ui(site, quick_hashes, page):
    engine, base = site
    add_people(engine)  # 4 of the 5 in Tashkent
    add_user(engine, "mara@example.com", "marketer")
    return engine, base, page


def test_a_segment_named_like_a_comment_and_a_script_opens_in_the_builder(ui):
    engine, base, page = ui
    with engine.begin() as conn:
        segment_id = segments.create(conn, "<!--<script>", TASHKENT, actor="mara@example.com")
    sign_in(page, base, "mara@example.com", f"/segments/{segment_id}")
    expect(page.locator("#count")).to_have_attribute("data-reachable", "4")
    expect(page.locator("#segment-name")).to_have_value("<!--<script>")
    expect(page.locator(".criterion [data-param=value]").first).to_have_value("Tashkent")
