"""The segment builder in the browser, in the marketer's words: criteria are picked by their names,
each offers the controls that fit it (a select of usage kinds, a date picker, yes/no, only the
comparisons a field allows), a criterion still missing something is said to be left out of the
count until it is complete, and what is saved is the same JSON tree as ever."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from engage.engine.segments import store as segments
from engage.engine.store.schema import Segment, Subscriber
from tests.audience_people import add_people
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user

BORN = {"+998901000001": date(1980, 3, 1), "+998901000002": date(1995, 7, 9), "+998901000003": date(2001, 1, 20)}


@pytest.fixture
def builder(site, quick_hashes, page):
    engine, base = site
    add_people(engine)  # 5 people: 4 in Tashkent
    with engine.begin() as conn:
        for msisdn, born in BORN.items():
            conn.execute(update(Subscriber).where(Subscriber.msisdn == msisdn).values(birth_date=born))
        segments.create(conn, "Tashkent", {"field": "city", "op": "eq", "value": "Tashkent"}, actor="t")
    add_user(engine, "mara@example.com", "marketer")
    sign_in(page, base, "mara@example.com", "/segments/new")
    page.locator("#count[data-reachable]").wait_for()
    return engine, base, page


def reachable(page, expected: int) -> None:
    expect(page.locator("#count")).to_have_attribute("data-reachable", str(expected))


def options_of(select) -> list[str]:
    return [text.strip() for text in select.locator("option").all_inner_texts()]


def test_a_usage_criterion_is_built_from_named_choices_and_saved_as_the_json_tree(builder):
    engine, _, page = builder
    row = page.locator(".criterion").first
    row.locator(".kind").select_option(label="Network usage")
    row.get_by_label("usage").select_option(label="Outgoing calls (minutes)")
    row.get_by_label("in the last N days").fill("30")
    row.get_by_label("comparison").select_option(label="at least")
    row.get_by_label("amount").fill("100")
    reachable(page, 0)  # nobody has used the network in this base
    page.fill("#segment-name", "Callers")
    page.click("#save")
    expect(page.locator("#saved")).to_contain_text("0 reachable")
    with engine.connect() as conn:
        definition = conn.execute(select(Segment.definition).where(Segment.name == "Callers")).scalar_one()
    assert definition == {"kind": "usage", "usage": "call_out", "days": 30, "agg": "sum", "op": "ge", "value": 100}
    screenshot(page, "segment-builder-usage")


def test_a_date_is_picked_with_a_date_input_and_compared_in_words(builder):
    _, _, page = builder
    row = page.locator(".criterion").first
    row.get_by_label("field").select_option(label="Date of birth")
    row.get_by_label("comparison").select_option(label="is before")
    value = row.locator("[data-param=value]")
    expect(value).to_have_attribute("type", "date")
    value.fill("1996-01-01")
    reachable(page, 2)  # born 1980 and 1995


def test_a_yes_or_no_field_offers_is_or_is_not_and_yes_or_no(builder):
    _, _, page = builder
    row = page.locator(".criterion").first
    row.get_by_label("field").select_option(label="Roaming")
    assert options_of(row.get_by_label("comparison")) == ["is", "is not", "is unknown", "is known"]
    assert options_of(row.locator("[data-param=value]")) == ["yes", "no"]


def test_a_number_field_offers_only_the_comparisons_it_allows(builder):
    _, _, page = builder
    row = page.locator(".criterion").first
    row.get_by_label("field").select_option(label="Balance")
    offered = options_of(row.get_by_label("comparison"))
    assert "is at least" in offered and "is between" in offered
    assert "contains" not in offered and "ge" not in offered


def test_is_not_opted_out_is_offered_in_words(builder):
    _, _, page = builder
    row = page.locator(".criterion").first
    row.locator(".kind").select_option(label="Opted out")
    reachable(page, 0)  # has opted out: nobody of the five
    row.get_by_label("opted out or not").select_option(label="has not opted out")
    reachable(page, 5)


def test_a_criterion_still_missing_a_value_is_left_out_of_the_count_saying_so(builder):
    _, _, page = builder
    first = page.locator(".criterion").first
    first.get_by_label("field").select_option(label="City")
    first.locator("[data-param=value]").fill("Tashkent")
    reachable(page, 4)
    page.click(".add-criterion")
    page.locator(".criterion").nth(1).locator(".kind").select_option(label="Age")
    expect(page.locator("#unfinished")).to_have_text(
        "Not counted until complete: criterion 2 (Age): enter an age in years.")
    page.fill("#segment-name", "Half done")
    page.click("#save")
    expect(page.locator("#error")).to_have_text(
        "Finish or remove criterion 2 (Age) before saving: enter an age in years.")


def test_a_saved_segment_is_chosen_by_its_name(builder):
    _, _, page = builder
    row = page.locator(".criterion").first
    row.locator(".kind").select_option(label="In a saved segment")
    assert options_of(row.get_by_label("saved segment")) == ["Tashkent"]
    reachable(page, 4)


def test_every_control_of_every_kind_has_a_label(builder):
    _, _, page = builder
    kinds = options_of(page.locator(".kind").first)
    for n, label in enumerate(kinds[1:], start=1):
        page.click(".add-criterion")
        page.locator(".criterion").nth(n).locator(".kind").select_option(label=label)
    unlabelled = page.locator("#builder").evaluate("""root => [...root.querySelectorAll('input, select, button')]
        .filter(c => !(c.getAttribute('aria-label') || c.closest('label')?.textContent.trim() || c.textContent.trim()))
        .map(c => c.outerHTML)""")
    assert unlabelled == []
    assert not any("_" in label for label in kinds)


def test_a_saved_usage_segment_opens_with_its_choices_shown_by_name(site, quick_hashes, page):
    engine, base = site
    add_user(engine, "mara@example.com", "marketer")
    with engine.begin() as conn:
        segment_id = segments.create(conn, "Data users", {"kind": "usage", "usage": "data", "days": 7, "op": "ge",
                                                          "value": 100}, actor="t")
    sign_in(page, base, "mara@example.com", f"/segments/{segment_id}")
    row = page.locator(".criterion").first
    expect(row.get_by_label("usage").locator("option:checked")).to_have_text("Data (MB)")
    expect(row.get_by_label("comparison").locator("option:checked")).to_have_text("at least")
    expect(page.locator("#definition-json")).to_be_hidden()
