"""A saved segment in the browser: it opens in the builder with its criteria and count, is changed
and saved, duplicated (the copy opens), deleted unless a campaign uses it; a masked sample of the
audience follows the edits once asked for; a tree the builder cannot draw opens as JSON."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engage.engine.segments import store as segments
from engage.engine.store.schema import Segment
from tests.audience_people import add_people
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user
from tests.test_segments_api_crud import campaign_on

TASHKENT_UZ = {"and": [{"field": "city", "op": "eq", "value": "Tashkent"},
                       {"field": "language", "op": "eq", "value": "uz"}]}


@pytest.fixture
def ui(site, quick_hashes, page):
    engine, base = site
    add_people(engine)  # 5 people: 4 in Tashkent, 3 of them speak uz
    add_user(engine, "mara@example.com", "marketer")
    with engine.begin() as conn:
        segment_id = segments.create(conn, "Tashkent uz", TASHKENT_UZ, actor="mara@example.com")
    return engine, base, page, segment_id


def open_segment(page, base, segment_id):
    sign_in(page, base, "mara@example.com", f"/segments/{segment_id}")
    page.locator("#count[data-reachable]").wait_for()


def definition_of(engine, segment_id):
    with engine.connect() as conn:
        return conn.execute(select(Segment.definition).where(Segment.id == segment_id)).scalar_one()


def test_a_saved_segment_opens_in_the_builder_with_its_criteria_and_count(ui):
    _, base, page, segment_id = ui
    open_segment(page, base, segment_id)
    expect(page.locator("#count")).to_have_attribute("data-reachable", "3")
    values = page.locator(".criterion [data-param=value]")
    expect(values.nth(0)).to_have_value("Tashkent")
    expect(values.nth(1)).to_have_value("uz")
    expect(page.locator("#segment-name")).to_have_value("Tashkent uz")
    screenshot(page, "segment-edit")


def test_a_change_is_saved_to_the_same_segment(ui):
    engine, base, page, segment_id = ui
    open_segment(page, base, segment_id)
    page.locator(".criterion [data-param=value]").nth(1).fill("ru")
    expect(page.locator("#count")).to_have_attribute("data-reachable", "1")
    page.click("#save")
    expect(page.locator("#saved")).to_have_text("Saved: 1 reachable.")
    assert definition_of(engine, segment_id)["and"][1] == {"field": "language", "op": "eq", "value": "ru"}


def test_duplicating_opens_the_copy(ui):
    engine, base, page, segment_id = ui
    open_segment(page, base, segment_id)
    page.click("#duplicate")
    expect(page.locator("#title")).to_have_text("Tashkent uz (copy)")
    copy_id = int(re.search(r"/segments/(\d+)$", page.url).group(1))
    assert copy_id != segment_id and definition_of(engine, copy_id) == TASHKENT_UZ
    expect(page.locator("#count")).to_have_attribute("data-reachable", "3")


def test_deleting_an_unused_segment_returns_to_the_list(ui):
    engine, base, page, segment_id = ui
    open_segment(page, base, segment_id)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    expect(page.locator("#done")).to_have_text("Segment “Tashkent uz” deleted.")
    expect(page.locator(f"tr[data-segment='{segment_id}']")).to_have_count(0)


def test_a_segment_a_campaign_uses_is_not_deleted_and_the_page_says_why(ui):
    engine, base, page, segment_id = ui
    campaign_on(engine, segment_id)
    open_segment(page, base, segment_id)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    expect(page.locator("#error")).to_contain_text("cancel or finish that campaign first")
    assert definition_of(engine, segment_id) == TASHKENT_UZ


def test_a_masked_sample_follows_the_edits_once_asked_for(ui):
    _, base, page, segment_id = ui
    open_segment(page, base, segment_id)
    expect(page.locator("#sample")).to_be_hidden()
    page.click("#show-sample")
    rows = page.locator("#sample tbody tr")
    expect(rows).to_have_count(3)
    assert all("*" in number for number in rows.locator("td:first-child").all_inner_texts())
    page.locator(".criterion [data-param=value]").nth(1).fill("ru")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Anna")


def test_a_tree_the_builder_cannot_draw_opens_as_json_and_still_counts(ui):
    engine, base, page, _ = ui
    with engine.begin() as conn:
        odd = segments.create(conn, "not Tashkent uz", {"not": TASHKENT_UZ}, actor="t")
    open_segment(page, base, odd)
    expect(page.locator("#definition-json")).to_be_visible()
    expect(page.locator("#count")).to_have_attribute("data-reachable", "2")
    page.fill("#definition-json", '{"not": {"field": "city", "op": "eq", "value": "Tashkent"}}')
    expect(page.locator("#count")).to_have_attribute("data-reachable", "1")


def test_the_builder_does_not_scroll_sideways_at_tablet_width(ui):
    _, base, page, segment_id = ui
    page.set_viewport_size({"width": 768, "height": 1000})
    open_segment(page, base, segment_id)
    page.click("#show-sample")
    expect(page.locator("#sample tbody tr")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
    screenshot(page, "segment-edit-768")
