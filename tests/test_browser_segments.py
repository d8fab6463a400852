"""The segment builder in the browser: the count refreshes as criteria are added and the group
switches between all and any; a bad value shows the API's message; saving stores the tree."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engage.engine.store.schema import Segment
from tests.audience_people import add_people
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user


@pytest.fixture
def builder(site, quick_hashes, page):
    engine, base = site
    add_people(engine)  # 5 people: 4 in Tashkent, 3 of them speak uz
    add_user(engine, "mara@example.com", "marketer")
    sign_in(page, base, "mara@example.com", "/segments/new")
    page.locator("#count[data-reachable]").wait_for()
    return engine, page


def reachable(page, expected):
    """The reachable count once it shows `expected` (it refreshes a moment after each edit)."""
    expect(page.locator("#count")).to_have_attribute("data-reachable", str(expected))
    return int(page.locator("#count").get_attribute("data-reachable"))


def criterion(page, n, field, value, op="eq"):
    row = page.locator(".criterion").nth(n)
    row.locator("[data-param=field]").select_option(field)
    row.locator("[data-param=op]").select_option(op)
    row.locator("[data-param=value]").fill(value)


def test_the_count_follows_the_criteria_and_the_group_operator(builder):
    _, page = builder
    assert reachable(page, 5) == 5  # one empty criterion: everyone
    criterion(page, 0, "city", "Tashkent")
    assert reachable(page, 4) == 4
    page.click(".add-criterion")
    criterion(page, 1, "language", "uz")
    assert reachable(page, 3) == 3
    page.locator(".how").first.select_option("or")  # Tashkent or uz: Sam in Bukhara speaks en
    assert reachable(page, 4) == 4
    screenshot(page, "segment-builder")


def age_at_least(page, n, years):
    row = page.locator(".criterion").nth(n)
    row.locator(".kind").select_option(label="Age")
    row.get_by_label("comparison").select_option(label="at least")
    row.get_by_label("years").fill(years)


def test_a_bad_value_is_said_in_words_naming_its_criterion(builder):
    _, page = builder
    age_at_least(page, 0, "200")
    expect(page.locator("#error")).to_have_text("Criterion 1 (Age): enter at most 150 years")
    expect(page.locator(".criterion").first).to_have_attribute("data-error", "true")


def test_saving_stores_the_segment_tree(builder):
    engine, page = builder
    criterion(page, 0, "city", "Tashkent")
    reachable(page, 4)
    page.fill("#segment-name", "Tashkent people")
    page.click("#save")
    page.locator("#saved").filter(has_text="4 reachable").wait_for()
    with engine.connect() as conn:
        definition = conn.execute(select(Segment.definition).where(Segment.name == "Tashkent people")).scalar_one()
    assert definition == {"field": "city", "op": "eq", "value": "Tashkent"}


def test_not_beside_opted_out_selects_who_has_not_opted_out(builder):
    """The criterion "opted_out" starts as "is opted out", so ticking "not" means what it says."""
    _, page = builder
    row = page.locator(".criterion").first
    row.locator(".kind").select_option("opted_out")
    assert reachable(page, 0) == 0  # is opted out: nobody of the five
    row.locator(".not").check()
    assert reachable(page, 5) == 5  # is not opted out: all five


def test_a_new_segment_once_saved_is_titled_by_its_name(builder):
    _, page = builder
    criterion(page, 0, "city", "Tashkent")
    reachable(page, 4)
    page.fill("#segment-name", "Tashkent people")
    page.click("#save")
    expect(page.locator("#title")).to_have_text("Tashkent people")
    assert page.title() == "Tashkent people · engage"


def test_a_segment_nobody_matches_is_flagged_and_saving_it_says_so(builder):
    _, page = builder
    criterion(page, 0, "city", "Nowhere")
    reachable(page, 0)
    expect(page.locator("#reach-warning")).to_have_text(
        "Nobody matches: a campaign to this segment would send nothing.")
    page.fill("#segment-name", "Empty")
    page.click("#save")
    expect(page.locator("#saved")).to_contain_text("0 reachable. Nobody in it can be sent a message.")


def test_the_count_is_withdrawn_while_the_definition_has_an_error(builder):
    _, page = builder
    criterion(page, 0, "city", "Tashkent")
    reachable(page, 4)
    age_at_least(page, 0, "200")
    expect(page.locator("#count")).to_have_text("No count while the definition has an error.")
    expect(page.locator("#count")).not_to_have_attribute("data-reachable", "4")
